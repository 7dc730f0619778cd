"""Results: final ranks, player statistics and (rated games between people) Elo changes,
written in the transaction that ends the game."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.db.models import Game, GameSeat, RatingHistory, User, utcnow
from ringrift.server.services import ratings


async def lock_players(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, User]:
    """Lock the players of a game that ends, in id order, and return them by id.

    FOR NO KEY UPDATE: games that end together lock their players in one order, and moves
    being inserted meanwhile (whose foreign key on ``users`` takes FOR KEY SHARE) are not
    blocked. Plain FOR UPDATE conflicts with FOR KEY SHARE and deadlocked with them under load.
    """
    rows = await session.scalars(
        select(User).where(User.id.in_(user_ids)).order_by(User.id).with_for_update(key_share=True)
    )
    return {u.id: u for u in rows.all()}


async def finalize(
    session: AsyncSession, game: Game, seats: Sequence[GameSeat], ranks: Sequence[int]
) -> None:
    """Record final ranks, player stats and (rated human games) Elo changes."""
    for seat in seats:
        seat.final_rank = ranks[seat.seat - 1]
    humans = [s for s in seats if not s.is_ai and s.user_id]
    if not humans:
        return
    users = await lock_players(session, [s.user_id for s in humans if s.user_id])
    now = utcnow()
    for seat in humans:
        user = users.get(seat.user_id or "")
        if user is None:
            continue
        result = ratings.outcome(ranks[seat.seat - 1], ranks)
        user.games_played += 1
        if result == "win":
            user.wins += 1
        elif result == "draw":
            user.draws += 1
        else:
            user.losses += 1
        user.updated_at = now
    rated = (
        game.is_rated
        and len(humans) == len(seats)
        and len(users) == len(humans)
        and len(seats) >= 2
    )
    if not rated:
        return
    ordered = sorted(humans, key=lambda s: s.seat)
    participants = [
        ratings.Participant(
            rating=users[s.user_id or ""].rating,
            rated_games=users[s.user_id or ""].rated_games,
            rank=ranks[s.seat - 1],
        )
        for s in ordered
    ]
    deltas = ratings.rating_changes(participants)
    for seat, delta in zip(ordered, deltas, strict=True):
        user = users[seat.user_id or ""]
        before = user.rating
        after = round(before + delta, 2)
        user.rating = after
        user.rated_games += 1
        seat.rating_before = before
        seat.rating_after = after
        session.add(
            RatingHistory(
                user_id=user.id,
                game_id=game.id,
                rating_before=before,
                rating_after=after,
                delta=round(after - before, 2),
                created_at=now,
            )
        )
