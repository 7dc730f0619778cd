"""Rematches: after a finished game any person seated in it offers a rematch (same board,
players, time control, rated flag; every player moves one seat on); the other people accept or
decline, AI seats accept by themselves. When the last one accepts, the new game is created and
started for everyone.

The offer is one ``rematch_offers`` row per old game. Every change to it is a conditional
UPDATE on its ``version`` (and ``status = 'open'``), retried after a lost race, so concurrent
accepts through different instances are applied one after the other. The accept that completes
the set flips the offer to ``created`` and inserts the new game in the same transaction, and
``games.rematch_of`` is unique: one old game never gets two rematches. Every change is published
on the old game's channel (``RematchEvent``), which sockets receive as a ``rematch`` frame.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, RematchOffer, RematchStatus, User, utcnow
from ringrift.server.domain import GameStatus
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.events import RematchEvent
from ringrift.server.services import store
from ringrift.server.services.games import NewGame, SeatSpec, create_seated_game, started

ATTEMPTS = 8  # lost races before giving up (each loss means somebody else's change landed)


def _check_player(loaded: store.Loaded | None, user: User) -> store.Loaded:
    if loaded is None:
        raise ApiError(ErrorCode.GAME_NOT_FOUND)
    seat = loaded.seat_of(user.id)
    if seat is None or seat.is_ai:
        raise ApiError(
            ErrorCode.RESOURCE_ACCESS_DENIED, "Only the players of this game can answer a rematch"
        )
    if loaded.game.status != GameStatus.COMPLETED:
        raise ApiError(
            ErrorCode.REMATCH_UNAVAILABLE,
            f"The game is {loaded.game.status}: a rematch follows a finished game",
        )
    return loaded


def _people(loaded: store.Loaded) -> set[str]:
    """User ids of the human seats; REMATCH_UNAVAILABLE when one of them is gone."""
    humans = [s for s in loaded.seats if not s.is_ai]
    if any(s.user_id is None for s in humans):
        raise ApiError(ErrorCode.REMATCH_UNAVAILABLE, "A player of this game no longer exists")
    return {s.user_id for s in humans if s.user_id is not None}


def _closed(offer: RematchOffer) -> ApiError | None:
    if offer.status == RematchStatus.DECLINED:
        return ApiError(ErrorCode.REMATCH_DECLINED, details={"declinedBy": offer.declined_by})
    if offer.status == RematchStatus.CREATED:
        return ApiError(ErrorCode.REMATCH_ALREADY_CREATED, details={"newGameId": offer.new_game_id})
    return None


def rematch_seats(loaded: store.Loaded) -> list[SeatSpec]:
    """The old seats, each moved one on (seat n -> n + 1, the last to seat 1)."""
    n = loaded.game.max_players
    return sorted(
        (
            SeatSpec(s.seat % n + 1, user_id=None if s.is_ai else s.user_id, ai_level=s.ai_level)
            for s in loaded.seats
        ),
        key=lambda s: s.seat,
    )


def _spec(game: Game) -> NewGame:
    return NewGame(
        board_type=game.board_type,
        max_players=game.max_players,
        is_rated=game.is_rated,
        is_private=game.is_private,
        ai_levels=(),
        seed=None,
        time_control=game.time_control,
        rules_options=game.rules_options,
    )


async def _advance(session: AsyncSession, offer: RematchOffer, **values: object) -> bool:
    """One conditional step of the offer; False when somebody else changed it first."""
    result = await session.execute(
        update(RematchOffer)
        .where(
            RematchOffer.game_id == offer.game_id,
            RematchOffer.version == offer.version,
            RematchOffer.status == RematchStatus.OPEN,
        )
        .values(version=offer.version + 1, updated_at=utcnow(), **values)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def _read(
    ctx: AppContext, user: User, game_id: str
) -> tuple[store.Loaded, RematchOffer | None]:
    """The checked game and its offer, read in a transaction of their own: the write that
    follows is conditional on what was read (SQLite cannot turn a read into a write once
    another writer committed, and the version check makes the separate read safe)."""
    async with ctx.db.session() as session:
        loaded = _check_player(await store.load(session, game_id), user)
        offer = await session.get(RematchOffer, game_id)
        if offer is not None:
            session.expunge(offer)
    return loaded, offer


async def offer_or_accept(ctx: AppContext, user: User, game_id: str) -> RematchOffer:
    """Offer a rematch of a finished game, or accept the open offer; the last acceptance
    creates and starts the new game."""
    for _ in range(ATTEMPTS):
        loaded, offer = await _read(ctx, user, game_id)
        people = _people(loaded)
        if offer is not None:
            refused = _closed(offer)
            if refused is not None:
                raise refused
            if user.id in offer.accepted:
                raise ApiError(ErrorCode.REMATCH_ALREADY_ACCEPTED)
        accepted = [*(offer.accepted if offer is not None else []), user.id]
        created: Game | None = None
        async with ctx.db.session() as session:
            try:
                if offer is None:
                    now = utcnow()
                    session.add(
                        RematchOffer(
                            game_id=game_id,
                            offered_by=user.id,
                            accepted=accepted,
                            status=RematchStatus.OPEN,
                            version=0,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    await session.flush()  # a second offer at the same moment fails here
                elif not await _advance(session, offer, accepted=accepted):
                    await session.rollback()
                    continue
                if people <= set(accepted):
                    created = await create_seated_game(
                        ctx,
                        _spec(loaded.game),
                        (offer.offered_by if offer is not None else None) or user.id,
                        rematch_seats(loaded),
                        rematch_of=game_id,
                        session=session,
                    )
                    await session.execute(
                        update(RematchOffer)
                        .where(RematchOffer.game_id == game_id)
                        .values(status=RematchStatus.CREATED, new_game_id=created.id)
                    )
                await session.commit()
            except IntegrityError:
                # Somebody offered at the same moment, or the rematch exists already: the
                # next round reads what they did.
                await session.rollback()
                continue
            final = await session.get(RematchOffer, game_id, populate_existing=True)
        assert final is not None
        if created is not None:
            await started(ctx, created)
        _publish(ctx, loaded.game, final)
        return final
    raise ApiError(ErrorCode.GAME_VERSION_CONFLICT, "The rematch changed too often; try again")


async def decline(ctx: AppContext, user: User, game_id: str) -> RematchOffer:
    """Decline the open offer, or withdraw one's own: either way the offer is over."""
    for _ in range(ATTEMPTS):
        loaded, offer = await _read(ctx, user, game_id)
        if offer is None:
            raise ApiError(ErrorCode.REMATCH_NOT_OFFERED)
        refused = _closed(offer)
        if refused is not None:
            raise refused
        async with ctx.db.session() as session:
            values = {"status": RematchStatus.DECLINED, "declined_by": user.id}
            if not await _advance(session, offer, **values):
                await session.rollback()
                continue
            await session.commit()
            final = await session.get(RematchOffer, game_id, populate_existing=True)
        assert final is not None
        _publish(ctx, loaded.game, final)
        return final
    raise ApiError(ErrorCode.GAME_VERSION_CONFLICT, "The rematch changed too often; try again")


async def current(ctx: AppContext, game_id: str) -> RematchOffer | None:
    async with ctx.db.session() as session:
        return await session.scalar(select(RematchOffer).where(RematchOffer.game_id == game_id))


def _publish(ctx: AppContext, game: Game, offer: RematchOffer) -> None:
    ctx.bus.publish(
        RematchEvent(
            game_id=game.id,
            v=game.version,
            status=str(offer.status),
            offered_by=offer.offered_by,
            accepted=tuple(offer.accepted or ()),
            declined_by=offer.declined_by,
            new_game_id=offer.new_game_id,
        ).to_json()
    )
