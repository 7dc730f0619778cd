"""Game chat over REST (for clients without the socket), chat reports and moderator removal.
The rules are ``services/chat.py``'s; the socket carries the same messages as frames."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import Field, StringConstraints

from ringrift.server.api.account_schemas import (
    Envelope,
    Model,
    Out,
    Reason,
    ReportOut,
    error_responses,
)
from ringrift.server.api.admin import report_out
from ringrift.server.api.deps import Ctx, CurrentUser, OptionalUser, StaffUser
from ringrift.server.db.vocab import ChatChannel
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import chat as service
from ringrift.server.services import moderation

router = APIRouter(prefix="/api", tags=["chat"], responses=error_responses(400, 401, 403, 404, 429))

GameId = Annotated[str, Path(min_length=1, max_length=64, description="game id")]
MessageId = Annotated[str, Path(min_length=1, max_length=64, description="chat message id")]


class ChatPostRequest(Model):
    channel: ChatChannel
    # Checked further by the service (trimmed 1-300 characters, no control characters); the
    # bound here only keeps absurd bodies out of the validator.
    body: Annotated[str, StringConstraints(max_length=4 * service.MAX_BODY)]


class ChatReportRequest(Model):
    reason: Reason


class ChatMessageOut(Out):
    id: str
    game_id: str
    channel: ChatChannel
    seq: int
    user_id: str | None
    username: str | None
    body: str | None = Field(description="null once removed")
    created_at: str
    removed: service.Removal | None = Field(description="moderator or author_deleted")


class ChatPage(Out):
    game_id: str
    channel: ChatChannel
    messages: list[ChatMessageOut]
    removed: list[int] = Field(description="seqs at or before `after` removed since")
    latest: int


def message_out(view: service.MessageView) -> ChatMessageOut:
    return ChatMessageOut(
        id=view.id,
        game_id=view.game_id,
        channel=view.channel,
        seq=view.seq,
        user_id=view.user_id,
        username=view.username,
        body=view.body,
        created_at=view.created_at.isoformat(),
        removed=view.removed,
    )


@router.get("/games/{game_id}/chat", response_model=Envelope[ChatPage])
async def read_chat(
    game_id: GameId,
    ctx: Ctx,
    viewer: OptionalUser,
    channel: Annotated[ChatChannel, Query()],
    after: Annotated[int | None, Query(ge=0, le=2**31)] = None,
) -> Envelope[ChatPage]:
    """Messages of one channel after seq ``after`` (oldest first, a page of at most
    ``CHAT_HISTORY_LIMIT``), or the latest ones without ``after``."""
    found = await service.read(ctx, viewer, game_id, channel, after)
    return Envelope(
        data=ChatPage(
            game_id=game_id,
            channel=channel,
            messages=[message_out(m) for m in found.messages],
            removed=found.removed,
            latest=found.latest,
        )
    )


@router.post(
    "/games/{game_id}/chat",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ChatMessageOut],
)
async def post_chat(
    game_id: GameId, body: ChatPostRequest, user: CurrentUser, ctx: Ctx
) -> Envelope[ChatMessageOut]:
    """Post a message (rate limited per user and per game; 429 with Retry-After)."""
    posted = await service.post(ctx, user, game_id, body.channel, body.body)
    return Envelope(data=message_out(posted))


@router.post(
    "/chat/{message_id}/report",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ReportOut],
)
async def report_message(
    message_id: MessageId, body: ChatReportRequest, user: CurrentUser, ctx: Ctx
) -> Envelope[ReportOut]:
    """Report a chat message you can read to the moderators (rate limited per reporter)."""
    message, _username = await service.get_message(ctx.db, message_id)
    await service.ensure_may_read_message(ctx, user, message)
    if message.user_id is None:
        raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND, "The author no longer exists")
    await ctx.limiter.enforce(Bucket.REPORTS, user.id, ctx.settings.rate_limit_reports)
    report = await moderation.create_report(
        ctx.db, user, message.user_id, body.reason, chat_message=message
    )
    return Envelope(data=report_out(report))


@router.post("/chat/{message_id}/remove", response_model=Envelope[ChatMessageOut])
async def remove_message(
    message_id: MessageId, staff: StaffUser, ctx: Ctx
) -> Envelope[ChatMessageOut]:
    """Remove a message (moderators and admins): every reader sees "removed by a moderator"
    instead of its text. Idempotent."""
    event = await service.remove(ctx.db, message_id, staff.id)
    service.publish(ctx, event)
    message, username = await service.get_message(ctx.db, message_id)
    return Envelope(data=message_out(service.view(message, username)))
