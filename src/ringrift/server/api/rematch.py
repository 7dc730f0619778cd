"""`/api/games/{id}/rematch`: offer, accept, decline or withdraw the rematch of a finished
game (the logic and its concurrency rules are in ``services/rematch.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from ringrift.server.api.deps import Ctx, CurrentUser
from ringrift.server.db.models import RematchOffer
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import games as game_service
from ringrift.server.services import rematch as service

router = APIRouter(prefix="/api", tags=["games"])

GameId = Annotated[str, Path(min_length=1, max_length=64, description="the finished game's id")]


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class RematchOut(Out):
    game_id: str = Field(alias="gameId", description="the finished game")
    status: Literal["open", "declined", "created"]
    offered_by: str | None = Field(alias="offeredBy")
    accepted: list[str] = Field(description="user ids of the players who accepted")
    declined_by: str | None = Field(alias="declinedBy")
    new_game_id: str | None = Field(alias="newGameId", description="the rematch, once created")


class RematchData(Out):
    rematch: RematchOut


class RematchEnvelope(Out):
    success: Literal[True] = True
    data: RematchData


def _envelope(offer: RematchOffer) -> RematchEnvelope:
    data = game_service.rematch_json(offer)
    out = RematchOut.model_validate({"gameId": offer.game_id, **(data or {})})
    return RematchEnvelope(data=RematchData(rematch=out))


@router.post("/games/{game_id}/rematch", response_model=RematchEnvelope)
async def offer_or_accept(game_id: GameId, user: CurrentUser, ctx: Ctx) -> RematchEnvelope:
    """Offer a rematch of a finished game, or accept the open offer. When every person seated
    in it has accepted (AI seats accept by themselves), the new game is created and started:
    same board, players, time control and rated flag, every player one seat on; its id is
    `newGameId`. 409 `REMATCH_UNAVAILABLE` (not finished), `REMATCH_DECLINED`,
    `REMATCH_ALREADY_ACCEPTED`, `REMATCH_ALREADY_CREATED`; 403 when not seated."""
    await ctx.limiter.enforce(Bucket.GAMES, user.id, ctx.settings.rate_limit_game_create)
    return _envelope(await service.offer_or_accept(ctx, user, game_id))


@router.delete("/games/{game_id}/rematch", response_model=RematchEnvelope)
async def decline(game_id: GameId, user: CurrentUser, ctx: Ctx) -> RematchEnvelope:
    """Decline the open rematch offer, or withdraw your own: the offer is over. 404
    `REMATCH_NOT_OFFERED` when there is none; 409 once declined or created."""
    return _envelope(await service.decline(ctx, user, game_id))
