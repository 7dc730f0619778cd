"""`/api/matchmaking`: wait for an opponent of similar rating; `/api/time-controls`: presets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ringrift.server.api.deps import Ctx, CurrentUser
from ringrift.server.api.schemas import BoardType, Body
from ringrift.server.clocks import PRESETS
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import matchmaking as service
from ringrift.server.services.account_policy import ensure_may_play_rated

router = APIRouter(prefix="/api", tags=["matchmaking"])

Preset = Literal["1+0", "3+2", "5+3", "10+5", "15+10", "1 day", "3 days"]
assert set(Preset.__args__) == set(PRESETS)  # type: ignore[attr-defined]


class MatchmakingRequest(Body):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", strict=True)

    board_type: BoardType = Field(alias="boardType")
    max_players: int = Field(default=2, alias="maxPlayers", ge=2, le=4)
    time_control: Preset = Field(alias="timeControl")
    rated: bool = True


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class TicketOut(Out):
    board_type: str = Field(alias="boardType")
    max_players: int = Field(alias="maxPlayers")
    time_control: str = Field(alias="timeControl")
    rated: bool
    rating: float
    waiting_since: str = Field(alias="waitingSince")
    status: Literal["waiting", "matched"]
    game_id: str | None = Field(alias="gameId")
    rating_window: float = Field(
        alias="ratingWindow", description="the rating gap accepted now; it widens with waiting"
    )


class TicketData(Out):
    ticket: TicketOut


class TicketEnvelope(Out):
    success: Literal[True] = True
    data: TicketData


class CancelData(Out):
    cancelled: bool


class CancelEnvelope(Out):
    success: Literal[True] = True
    data: CancelData


class TimeControlOut(Out):
    kind: Literal["fischer", "correspondence", "untimed"]
    label: str
    initial_seconds: int | None = Field(default=None, alias="initialSeconds")
    increment_seconds: int | None = Field(default=None, alias="incrementSeconds")
    days_per_move: int | None = Field(default=None, alias="daysPerMove")


class TimeControlsData(Out):
    presets: list[TimeControlOut]


class TimeControlsEnvelope(Out):
    success: Literal[True] = True
    data: TimeControlsData


def _envelope(ticket: service.Ticket) -> TicketEnvelope:
    return TicketEnvelope(data=TicketData(ticket=TicketOut.model_validate(ticket.to_json())))


@router.get("/time-controls", response_model=TimeControlsEnvelope)
async def time_controls() -> TimeControlsEnvelope:
    """The lobby's time-control presets, fastest first."""
    presets = [TimeControlOut.model_validate(tc.to_json()) for tc in PRESETS.values()]
    return TimeControlsEnvelope(data=TimeControlsData(presets=presets))


@router.post("/matchmaking", status_code=status.HTTP_201_CREATED, response_model=TicketEnvelope)
async def join_queue(body: MatchmakingRequest, user: CurrentUser, ctx: Ctx) -> TicketEnvelope:
    """Wait for opponents in a pool (board, players, time control, rated); replaces any earlier
    wait. When players who fit are already waiting, the answer is already `matched`. Rated
    pools need a verified email address (`AUTH_EMAIL_NOT_VERIFIED`)."""
    await ctx.limiter.enforce(Bucket.MATCHMAKING, user.id, ctx.settings.rate_limit_game_create)
    if body.rated:
        ensure_may_play_rated(ctx.settings, user)
    pool = service.Pool(body.board_type, body.max_players, body.time_control, body.rated)
    return _envelope(await service.join(ctx, user, pool))


@router.get("/matchmaking", response_model=TicketEnvelope)
async def queue_status(
    user: CurrentUser,
    ctx: Ctx,
    wait: Annotated[
        float, Query(ge=0, le=service.MAX_WAIT_SECONDS, description="seconds to wait for a match")
    ] = 0.0,
) -> TicketEnvelope:
    """Your place in the queue; polling it keeps you there (stop polling and you leave after
    the heartbeat timeout). With `wait`, the answer comes as soon as a match is made."""
    return _envelope(await service.status(ctx, user, wait))


@router.delete("/matchmaking", response_model=CancelEnvelope)
async def leave_queue(user: CurrentUser, ctx: Ctx) -> CancelEnvelope:
    """Stop waiting. Once matched, the game exists: 409 with its id."""
    await service.cancel(ctx, user)
    return CancelEnvelope(data=CancelData(cancelled=True))
