"""`/api/games` and `/api/lobby`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import select

from ringrift.server.api.deps import Ctx, CurrentUser, OptionalUser
from ringrift.server.api.envelope import ok
from ringrift.server.api.schemas import CreateGameRequest, MoveRequest, TimeControl
from ringrift.server.db.models import Game, User
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import games as service
from ringrift.server.services.account_policy import ensure_may_play_rated, is_verified

router = APIRouter(prefix="/api", tags=["games"])

GameId = Annotated[str, Path(min_length=1, max_length=64, description="game id")]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Invite = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        description="the invite token of a private game (from its invite link)",
    ),
]


def _page(
    items: list[service.Loaded],
    total: int,
    limit: int,
    offset: int,
    viewer: User | None = None,
) -> dict[str, Any]:
    return {
        "games": [service.game_json(g, include_state=False, viewer=viewer) for g in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.post("/games", status_code=status.HTTP_201_CREATED)
async def create_game(body: CreateGameRequest, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """Create a game; the creator takes seat 1 and AI opponents the next seats. A game whose
    seats are all filled starts at once. Games with AI seats are never rated."""
    await ctx.limiter.enforce(Bucket.GAMES, user.id, ctx.settings.rate_limit_game_create)
    is_rated = body.is_rated
    with_ai = body.ai_opponents is not None and body.ai_opponents.count > 0
    if is_rated and not with_ai and not is_verified(user):
        # Unverified accounts play unrated games: the default becomes unrated, asking for a
        # rated game explicitly is refused.
        if "is_rated" in body.model_fields_set:
            ensure_may_play_rated(ctx.settings, user)
        is_rated = not ctx.settings.rated_requires_verified_email
    spec = service.NewGame(
        board_type=body.board_type,
        max_players=body.max_players,
        is_rated=is_rated,
        is_private=body.is_private,
        ai_levels=tuple(body.ai_opponents.difficulty) if body.ai_opponents else (),
        seed=body.seed,
        time_control=(
            body.time_control.model_dump(by_alias=True, exclude_none=True)
            if isinstance(body.time_control, TimeControl)
            else body.time_control
        ),
        rules_options=body.rules_options,
    )
    loaded = await service.create_game(ctx, user, spec)
    return ok({"game": service.game_json(loaded, viewer=user)})


@router.get("/games")
async def my_games(
    user: CurrentUser,
    ctx: Ctx,
    status_filter: Annotated[
        Literal["waiting", "active", "completed", "cancelled"] | None, Query(alias="status")
    ] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Games the user is seated in, most recently updated first."""
    items, total = await service.list_my_games(ctx, user, status_filter, limit, offset)
    return ok(_page(items, total, limit, offset, user))


@router.get("/lobby")
async def lobby(ctx: Ctx, limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    """Public games waiting for players, newest first."""
    items, total = await service.list_lobby(ctx, limit, offset)
    return ok(_page(items, total, limit, offset))


@router.get("/games/{game_id}")
async def get_game(
    game_id: GameId, ctx: Ctx, viewer: OptionalUser, invite: Invite = None
) -> dict[str, Any]:
    """A game with its seats, current wire-format state and rematch offer (private games:
    seated users, and signed-in users with its ``invite`` token). Seated users also get the
    ``inviteToken`` of a private game."""
    loaded = await service.get_game(ctx, game_id, viewer, invite, with_rematch=True)
    return ok({"game": service.game_json(loaded, viewer=viewer)})


@router.post("/games/{game_id}/join")
async def join_game(
    game_id: GameId, user: CurrentUser, ctx: Ctx, invite: Invite = None
) -> dict[str, Any]:
    """Take the lowest free seat of a waiting game; the game starts when the last seat fills.
    Rated games need a verified email address; private games their ``invite`` token."""
    if ctx.settings.rated_requires_verified_email and not is_verified(user):
        async with ctx.db.session() as session:
            rated = await session.scalar(select(Game.is_rated).where(Game.id == game_id))
        if rated:
            ensure_may_play_rated(ctx.settings, user)
    loaded = await service.join_game(ctx, user, game_id, invite)
    return ok({"game": service.game_json(loaded, viewer=user)})


@router.post("/games/{game_id}/leave")
async def leave_game(game_id: GameId, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """Leave a waiting game (its creator cancels it) or resign an active one."""
    loaded = await service.leave_game(ctx, user, game_id)
    return ok({"game": service.game_json(loaded, viewer=user)})


@router.post("/games/{game_id}/moves")
async def submit_move(
    game_id: GameId, body: MoveRequest, user: CurrentUser, ctx: Ctx
) -> dict[str, Any]:
    """Play a wire-format move against the expected game version. Due AI turns are played
    right after it; each move is committed (and versioned) on its own."""
    await ctx.limiter.enforce(Bucket.MOVES, user.id, ctx.settings.rate_limit_moves)
    loaded = await service.submit_move(ctx, user, game_id, body.move, body.version)
    return ok({"game": service.game_json(loaded, viewer=user)})


@router.get("/games/{game_id}/moves")
async def game_moves(
    game_id: GameId, ctx: Ctx, viewer: OptionalUser, invite: Invite = None
) -> dict[str, Any]:
    """The full move list with the initial state: replaying it reproduces every state."""
    return ok(await service.move_list(ctx, game_id, viewer, invite))
