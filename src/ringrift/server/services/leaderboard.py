"""The leaderboard, optionally for one kind of game (board type and/or player count).

Ratings stay global: one Elo per user (``users.rating``), moved by every rated game whatever
its board or player count. A filtered board lists the players who finished at least one rated
game of that kind, still ordered by their global rating, with their games and wins *of that
kind* next to it. Per-kind ratings would need a rating per (user, kind) and a second rating
update per game; the global number is what matchmaking uses, so the board shows that one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat, User
from ringrift.server.domain import GameStatus


@dataclass(frozen=True)
class Kind:
    board_type: str | None = None
    players: int | None = None

    @property
    def filtered(self) -> bool:
        return self.board_type is not None or self.players is not None


@dataclass(frozen=True)
class Row:
    user: User
    kind_games: int | None  # rated games of the kind (None without a filter)
    kind_wins: int | None  # of those, the ones finished first (shared first places count)


def _eligible() -> list[ColumnElement[bool]]:
    # Deleted and banned accounts leave the board (their games keep their ratings).
    return [User.deleted_at.is_(None), User.banned_at.is_(None)]


def _kind_stats(kind: Kind) -> Select[str | None, int, Any]:
    query = (
        select(
            GameSeat.user_id.label("user_id"),
            func.count().label("games"),
            func.sum(case((GameSeat.final_rank == 1, 1), else_=0)).label("wins"),
        )
        .join(Game, Game.id == GameSeat.game_id)
        .where(
            Game.is_rated.is_(True),
            Game.status == GameStatus.COMPLETED.value,
            GameSeat.user_id.is_not(None),
        )
        .group_by(GameSeat.user_id)
    )
    if kind.board_type is not None:
        query = query.where(Game.board_type == kind.board_type)
    if kind.players is not None:
        query = query.where(Game.max_players == kind.players)
    return query


async def _count(session: AsyncSession, query: Select[*tuple[Any, ...]]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def leaderboard(
    ctx: AppContext, kind: Kind, limit: int, offset: int
) -> tuple[list[Row], int]:
    """One page of the board, best global rating first, and the number of players on it."""
    order = (User.rating.desc(), User.created_at, User.id)
    async with ctx.db.session() as session:
        if not kind.filtered:
            ranked = select(User).where(User.rated_games > 0, *_eligible())
            total = await _count(session, ranked)
            users = (
                await session.scalars(ranked.order_by(*order).limit(limit).offset(offset))
            ).all()
            return [Row(u, None, None) for u in users], total
        stats = _kind_stats(kind).subquery()
        query = (
            select(User, stats.c.games, stats.c.wins)
            .join(stats, stats.c.user_id == User.id)
            .where(*_eligible())
        )
        total = await _count(session, query)
        rows = (await session.execute(query.order_by(*order).limit(limit).offset(offset))).all()
        return [Row(user, int(games), int(wins or 0)) for user, games, wins in rows], total
