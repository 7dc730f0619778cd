"""Ending a game early: `POST /api/games/{id}/claim-victory` (the opponent abandoned a
2-player Fischer game) and `POST /api/games/{id}/abort` (before every seat has moved)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from ringrift.server.api.deps import Ctx, CurrentUser
from ringrift.server.api.schemas import Body
from ringrift.server.services import abandonment, aborts
from ringrift.server.services import games as games_service

router = APIRouter(prefix="/api", tags=["games"])

GameId = Annotated[str, Path(min_length=1, max_length=64, description="game id")]


class AbortRequest(Body):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", strict=True)

    version: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description="the game version the player saw; a different current version is a 409",
    )


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class GameData(Out):
    game: dict[str, Any] = Field(description="the game, as GET /api/games/{id} returns it")


class GameEnvelope(Out):
    success: Literal[True] = True
    data: GameData


@router.post("/games/{game_id}/claim-victory", response_model=GameEnvelope)
async def claim_victory(game_id: GameId, user: CurrentUser, ctx: Ctx) -> GameEnvelope:
    """Win a 2-player Fischer game whose opponent has had no socket for the grace period
    (`PRESENCE_GRACE_SECONDS`). Absence is checked again here: 409 `GAME_OPPONENT_PRESENT`
    when the opponent is connected, 409 `GAME_CLAIM_TOO_EARLY` (with `details.claimableAt`)
    before the grace ends, 409 `GAME_CLAIM_NOT_ALLOWED` for other games, 503
    `SERVER_PRESENCE_UNAVAILABLE` while presence cannot be checked. The game ends with
    `endReason: "abandoned"` and ratings change as for any win."""
    loaded = await abandonment.claim_victory(ctx, user, game_id)
    return GameEnvelope(data=GameData(game=games_service.game_json(loaded)))


@router.post("/games/{game_id}/abort", response_model=GameEnvelope)
async def abort_game(
    game_id: GameId, user: CurrentUser, ctx: Ctx, body: AbortRequest | None = None
) -> GameEnvelope:
    """Abort an active game in which some seat has not moved yet (any seated player): it ends
    `cancelled` with `endReason: "aborted"`, without result or rating change. 409
    `GAME_ABORT_NOT_ALLOWED` once every seat has moved."""
    version = body.version if body is not None else None
    loaded = await aborts.abort_game(ctx, user, game_id, version)
    return GameEnvelope(data=GameData(game=games_service.game_json(loaded)))
