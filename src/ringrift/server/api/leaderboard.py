"""`/api/leaderboard`: best global rating first, optionally only players of one kind of game
(`?board=hex8&players=2`); see services/leaderboard.py for why ratings stay global."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ringrift.server.api.deps import Ctx
from ringrift.server.api.envelope import user_json
from ringrift.server.api.schemas import BoardType
from ringrift.server.services import leaderboard as service

router = APIRouter(prefix="/api", tags=["users"])

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class LeaderboardEntryOut(Out):
    rank: int
    id: str
    username: str
    rating: float = Field(description="global Elo, moved by every rated game")
    rated_games: int
    games_played: int
    wins: int
    losses: int
    draws: int
    created_at: str
    kind_games: int | None = Field(
        default=None, description="rated games of the filtered kind (null without a filter)"
    )
    kind_wins: int | None = Field(
        default=None, description="of those, finished first (null without a filter)"
    )


class LeaderboardFilter(Out):
    board: BoardType | None
    players: int | None


class LeaderboardPage(Out):
    total: int
    limit: int
    offset: int
    filter: LeaderboardFilter
    entries: list[LeaderboardEntryOut]


class LeaderboardEnvelope(Out):
    success: Literal[True] = True
    data: LeaderboardPage


@router.get("/leaderboard", response_model=LeaderboardEnvelope, response_model_by_alias=True)
async def leaderboard(
    ctx: Ctx,
    limit: Limit = 50,
    offset: Offset = 0,
    board: Annotated[BoardType | None, Query(description="only players of this board")] = None,
    players: Annotated[int | None, Query(ge=2, le=4, description="and this player count")] = None,
) -> LeaderboardEnvelope:
    """Players with at least one rated game (of the kind, when filtered), best Elo first."""
    kind = service.Kind(board, players)
    rows, total = await service.leaderboard(ctx, kind, limit, offset)
    entries = [
        LeaderboardEntryOut.model_validate(
            {
                "rank": offset + i + 1,
                **user_json(row.user, private=False),
                "kindGames": row.kind_games,
                "kindWins": row.kind_wins,
            }
        )
        for i, row in enumerate(rows)
    ]
    return LeaderboardEnvelope(
        data=LeaderboardPage(
            total=total,
            limit=limit,
            offset=offset,
            filter=LeaderboardFilter(board=board, players=players),
            entries=entries,
        )
    )
