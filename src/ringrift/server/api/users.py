"""`/api/users` (me and public profiles); the leaderboard is `api/leaderboard.py`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from ringrift.server.api.deps import Ctx, CurrentUser
from ringrift.server.api.envelope import ok, user_json
from ringrift.server.db.models import RatingHistory, User
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import profiles

router = APIRouter(prefix="/api", tags=["users"])

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get("/users/me")
async def me(user: CurrentUser) -> dict[str, Any]:
    """The authenticated user's own profile."""
    return ok({"user": user_json(user, private=True)})


@router.get("/users/{user_id}")
async def profile(
    user_id: Annotated[str, Path(min_length=1, max_length=64)], ctx: Ctx, history: Limit = 50
) -> dict[str, Any]:
    """A public profile: stats, results per board (``byBoard``), the latest finished public
    games (``recentGames``, newest first) and the most recent rating history (newest
    first)."""
    async with ctx.db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise ApiError(ErrorCode.RESOURCE_NOT_FOUND, "User not found")
        rows = (
            await session.scalars(
                select(RatingHistory)
                .where(RatingHistory.user_id == user_id)
                .order_by(RatingHistory.created_at.desc(), RatingHistory.id)
                .limit(history)
            )
        ).all()
        by_board = await profiles.results_by_board(session, user_id)
        recent = await profiles.recent_games(session, user_id)
    return ok(
        {
            "user": user_json(user, private=False),
            "stats": {
                "gamesPlayed": user.games_played,
                "ratedGames": user.rated_games,
                "wins": user.wins,
                "losses": user.losses,
                "draws": user.draws,
                "winRate": round(user.wins / user.games_played, 4) if user.games_played else 0.0,
            },
            "byBoard": [row.to_json() for row in by_board],
            "recentGames": recent,
            "ratingHistory": [
                {
                    "gameId": r.game_id,
                    "ratingBefore": r.rating_before,
                    "ratingAfter": r.rating_after,
                    "delta": r.delta,
                    "createdAt": r.created_at.isoformat(),
                }
                for r in rows
            ],
        }
    )
