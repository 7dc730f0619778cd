"""The lobby's two lists, read from the database (the truth): public games waiting for players
("open") and public games in play ("live", for spectators). One entry shape serves the REST
routes, the socket snapshot and the socket deltas (``entry_json``).

The average rating of a game is the mean global rating (``users.rating``) of its human seats;
AI seats do not count, and a game without people has none (it sorts last).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat, User
from ringrift.server.domain import GameStatus

WAITING, ACTIVE = GameStatus.WAITING.value, GameStatus.ACTIVE.value


class Section(StrEnum):
    """Which lobby list a game belongs in now."""

    OPEN = "open"
    LIVE = "live"


@dataclass(frozen=True)
class Player:
    seat: int
    user_id: str | None
    username: str | None
    rating: float | None
    is_ai: bool
    ai_level: int | None


@dataclass(frozen=True)
class Entry:
    game: Game
    players: list[Player]

    @property
    def section(self) -> Section | None:
        if self.game.is_private:
            return None
        if self.game.status == WAITING:
            return Section.OPEN
        if self.game.status == ACTIVE:
            return Section.LIVE
        return None

    @property
    def average_rating(self) -> float | None:
        ratings = [p.rating for p in self.players if not p.is_ai and p.rating is not None]
        return round(sum(ratings) / len(ratings), 1) if ratings else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def entry_json(entry: Entry) -> dict[str, Any]:
    game = entry.game
    return {
        "id": game.id,
        "boardType": game.board_type,
        "maxPlayers": game.max_players,
        "status": game.status,
        "isRated": game.is_rated,
        "timeControl": game.time_control,
        "creatorId": game.creator_id,
        "players": [
            {
                "seat": p.seat,
                "userId": p.user_id,
                "username": p.username,
                "rating": round(p.rating, 1) if p.rating is not None else None,
                "isAi": p.is_ai,
                "aiLevel": p.ai_level,
            }
            for p in entry.players
        ],
        "openSeats": game.max_players - len(entry.players),
        "averageRating": entry.average_rating,
        # Committed moves, the bookkeeping ones the server plays included (= the version).
        "moveCount": game.version,
        "createdAt": _iso(game.created_at),
        "startedAt": _iso(game.started_at),
    }


async def _entries(session: AsyncSession, games: list[Game]) -> list[Entry]:
    if not games:
        return []
    rows = (
        await session.execute(
            select(GameSeat, User.username, User.rating)
            .outerjoin(User, User.id == GameSeat.user_id)
            .where(GameSeat.game_id.in_([g.id for g in games]))
            .order_by(GameSeat.game_id, GameSeat.seat)
        )
    ).all()
    players: dict[str, list[Player]] = {g.id: [] for g in games}
    for seat, username, rating in rows:
        players[seat.game_id].append(
            Player(
                seat.seat,
                seat.user_id,
                username if seat.user_id else None,
                None if seat.is_ai else rating,
                seat.is_ai,
                seat.ai_level,
            )
        )
    return [Entry(g, players[g.id]) for g in games]


async def _page(
    session: AsyncSession, query: Select[Any], limit: int, offset: int
) -> tuple[list[Entry], int]:
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    games = list((await session.scalars(query.limit(limit).offset(offset))).all())
    return await _entries(session, games), int(total or 0)


def _open_query() -> Select[Any]:
    return (
        select(Game)
        .where(Game.status == WAITING, Game.is_private.is_(False))
        .order_by(Game.created_at.desc(), Game.id)
    )


def _live_query() -> Select[Any]:
    average = (
        select(GameSeat.game_id.label("game_id"), func.avg(User.rating).label("average"))
        .join(User, User.id == GameSeat.user_id)
        .where(GameSeat.is_ai.is_(False))
        .group_by(GameSeat.game_id)
        .subquery()
    )
    return (
        select(Game)
        .outerjoin(average, average.c.game_id == Game.id)
        .where(Game.status == ACTIVE, Game.is_private.is_(False))
        # Games without people (no average) last; then the most recently started.
        .order_by(func.coalesce(average.c.average, -1.0).desc(), Game.started_at.desc(), Game.id)
    )


async def open_games(ctx: AppContext, limit: int, offset: int) -> tuple[list[Entry], int]:
    """Public games waiting for players, newest first."""
    async with ctx.db.session() as session:
        return await _page(session, _open_query(), limit, offset)


async def live_games(ctx: AppContext, limit: int, offset: int) -> tuple[list[Entry], int]:
    """Public games in play, highest average rating first."""
    async with ctx.db.session() as session:
        return await _page(session, _live_query(), limit, offset)


@dataclass(frozen=True)
class Snapshot:
    open: list[Entry]
    open_total: int
    live: list[Entry]
    live_total: int


async def snapshot(ctx: AppContext, limit: int) -> Snapshot:
    """Both lists, at most ``limit`` entries each, in one session."""
    async with ctx.db.session() as session:
        open_entries, open_total = await _page(session, _open_query(), limit, 0)
        live_entries, live_total = await _page(session, _live_query(), limit, 0)
    return Snapshot(open_entries, open_total, live_entries, live_total)


async def entries_by_id(ctx: AppContext, game_ids: list[str]) -> dict[str, Entry]:
    """The current entries of these games (missing ids: the game is gone)."""
    if not game_ids:
        return {}
    async with ctx.db.session() as session:
        games = list((await session.scalars(select(Game).where(Game.id.in_(game_ids)))).all())
        return {e.game.id: e for e in await _entries(session, games)}


async def public_active(ctx: AppContext, game_ids: list[str]) -> list[str]:
    """Which of these games are public and in play (may be shown with their move count)."""
    if not game_ids:
        return []
    async with ctx.db.session() as session:
        rows = await session.scalars(
            select(Game.id).where(
                Game.id.in_(game_ids), Game.status == ACTIVE, Game.is_private.is_(False)
            )
        )
        return list(rows.all())
