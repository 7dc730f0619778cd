"""A player's public page beyond the counters on ``users``: recent results and results per
board, read from the seats of finished games.

A result is the one the ratings use (``ratings.outcome``): a win is a sole first place, a draw a
shared first place, anything else a loss. Private games count in the per-board figures (as they
do in the user's own win/loss counters) but are never listed: their existence is for their
players only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ringrift.server.db.models import Game, GameSeat, User
from ringrift.server.domain import GameStatus
from ringrift.server.services import ratings

RECENT_GAMES = 10


@dataclass(frozen=True)
class BoardResults:
    board_type: str
    max_players: int
    games: int
    wins: int
    draws: int

    @property
    def losses(self) -> int:
        return self.games - self.wins - self.draws

    def to_json(self) -> dict[str, Any]:
        return {
            "boardType": self.board_type,
            "maxPlayers": self.max_players,
            "games": self.games,
            "wins": self.wins,
            "draws": self.draws,
            "losses": self.losses,
            "winRate": round(self.wins / self.games, 4) if self.games else 0.0,
        }


async def results_by_board(session: AsyncSession, user_id: str) -> list[BoardResults]:
    """Finished games of ``user_id`` per (board, player count), most played first: one
    aggregate query whatever the number of games."""
    other = aliased(GameSeat)
    firsts = (
        select(func.count())
        .where(other.game_id == GameSeat.game_id, other.final_rank == 1)
        .correlate(GameSeat)
        .scalar_subquery()
    )
    first = GameSeat.final_rank == 1
    won = func.sum(case((and_(first, firsts == 1), 1), else_=0))
    drawn = func.sum(case((and_(first, firsts > 1), 1), else_=0))
    rows = await session.execute(
        select(Game.board_type, Game.max_players, func.count(), won, drawn)
        .join(Game, Game.id == GameSeat.game_id)
        .where(
            GameSeat.user_id == user_id,
            GameSeat.final_rank.is_not(None),
            Game.status == GameStatus.COMPLETED.value,
        )
        .group_by(Game.board_type, Game.max_players)
    )
    found = [
        BoardResults(board, int(players), int(games), int(wins or 0), int(draws or 0))
        for board, players, games, wins, draws in rows
    ]
    return sorted(found, key=lambda r: (-r.games, r.board_type, r.max_players))


async def recent_games(
    session: AsyncSession, user_id: str, limit: int = RECENT_GAMES
) -> list[dict[str, Any]]:
    """The user's latest finished public games, newest first: board, result, rank, rating
    change and who else sat at the table."""
    games = (
        await session.scalars(
            select(Game)
            .join(GameSeat, GameSeat.game_id == Game.id)
            .where(
                GameSeat.user_id == user_id,
                Game.status == GameStatus.COMPLETED.value,
                Game.is_private.is_(False),
            )
            .order_by(Game.ended_at.desc(), Game.id)
            .limit(limit)
        )
    ).all()
    if not games:
        return []
    seats = (
        await session.scalars(
            select(GameSeat)
            .where(GameSeat.game_id.in_([g.id for g in games]))
            .order_by(GameSeat.game_id, GameSeat.seat)
        )
    ).all()
    names = dict(
        (
            await session.execute(
                select(User.id, User.username).where(
                    User.id.in_({s.user_id for s in seats if s.user_id})
                )
            )
        ).all()
    )
    by_game: dict[str, list[GameSeat]] = {}
    for seat in seats:
        by_game.setdefault(seat.game_id, []).append(seat)
    out: list[dict[str, Any]] = []
    for game in games:
        table = by_game.get(game.id, [])
        mine = next((s for s in table if s.user_id == user_id), None)
        if mine is None or mine.final_rank is None:
            continue
        ranks = [s.final_rank for s in table if s.final_rank is not None]
        delta = (
            round(mine.rating_after - mine.rating_before, 2)
            if mine.rating_after is not None and mine.rating_before is not None
            else None
        )
        out.append(
            {
                "gameId": game.id,
                "boardType": game.board_type,
                "maxPlayers": game.max_players,
                "isRated": game.is_rated,
                "endedAt": game.ended_at.isoformat() if game.ended_at else None,
                "endReason": game.end_reason,
                "seat": mine.seat,
                "rank": mine.final_rank,
                "result": ratings.outcome(mine.final_rank, ranks),
                "ratingDelta": delta,
                "opponents": [
                    {
                        "seat": s.seat,
                        "userId": s.user_id,
                        "username": names.get(s.user_id) if s.user_id else None,
                        "aiLevel": s.ai_level if s.is_ai else None,
                    }
                    for s in table
                    if s is not mine
                ],
            }
        )
    return out
