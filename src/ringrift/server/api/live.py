"""`/api/games/live`: public games in play, for spectators (the socket's `lobby` frame carries
the same entries live; `GET /api/lobby` stays the REST list of open games)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ringrift.server.api.deps import Ctx
from ringrift.server.services import lobby as service

router = APIRouter(prefix="/api", tags=["games"])

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class LobbyPlayerOut(Out):
    seat: int
    user_id: str | None
    username: str | None
    rating: float | None = Field(description="global Elo (people only)")
    is_ai: bool
    ai_level: int | None


class LobbyGameOut(Out):
    id: str
    board_type: str
    max_players: int
    status: Literal["waiting", "active"]
    is_rated: bool
    time_control: dict[str, Any] | None
    creator_id: str | None
    players: list[LobbyPlayerOut]
    open_seats: int
    average_rating: float | None = Field(description="mean rating of the human seats")
    move_count: int = Field(description="committed moves, bookkeeping included")
    created_at: str | None
    started_at: str | None


class LivePage(Out):
    games: list[LobbyGameOut]
    total: int
    limit: int
    offset: int


class LiveEnvelope(Out):
    success: Literal[True] = True
    data: LivePage


@router.get("/games/live", response_model=LiveEnvelope, response_model_by_alias=True)
async def live_games(ctx: Ctx, limit: Limit = 20, offset: Offset = 0) -> LiveEnvelope:
    """Public games in play with their players and ratings, highest average rating first."""
    entries, total = await service.live_games(ctx, limit, offset)
    games = [LobbyGameOut.model_validate(service.entry_json(e)) for e in entries]
    return LiveEnvelope(data=LivePage(games=games, total=total, limit=limit, offset=offset))
