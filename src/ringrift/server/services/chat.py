"""Game chat: two channels per game, their rules, storage and fan-out.

* ``players``: the seated users read and write it; nobody else sees it.
* ``spectators``: anyone who may watch the game (``store.check_visible``) and is not seated
  reads and writes it. Seated players do not see it while the game is waiting or active; once
  the game is over (completed or cancelled) they may read and write it too.

A message body is trimmed and must then hold 1 to ``MAX_BODY`` characters, none of them a
control character (category Cc, which includes newlines and tabs), a lone surrogate or a line
or paragraph separator. Each channel numbers its messages ``seq`` = 1, 2, ... without gaps; a
removal keeps the row and its seq but the text is never served again. Posting is rate limited
per user and per game (``RATE_LIMIT_CHAT_*``) and refused to anonymous, banned, muted and
deleted users.

Every post and removal is published on the event bus as a ``ChatEvent``; sockets catch up by
seq from the database (``chat_history``) after anything they missed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server import codec
from ringrift.server.bus import EVENTS_CHANNEL
from ringrift.server.context import AppContext
from ringrift.server.db.models import ChatChannel, ChatMessage, User, utcnow
from ringrift.server.db.session import Database
from ringrift.server.domain import GameStatus
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.events import ChatEvent
from ringrift.server.ratelimit import Bucket
from ringrift.server.redis import RedisUnavailable, ResilientRedis
from ringrift.server.security.busauth import sign_event
from ringrift.server.security.keyring import Keyring
from ringrift.server.services import store

MAX_BODY = 300
INSERT_ATTEMPTS = 8
OPEN_STATUSES = frozenset({GameStatus.WAITING.value, GameStatus.ACTIVE.value})
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


class Removal(StrEnum):
    """Why a message has no text any more."""

    MODERATOR = "moderator"  # removed by a moderator or admin
    AUTHOR_DELETED = "author_deleted"  # its author deleted their account


class ChatBodyError(ValueError):
    """A message body that cannot be posted (the reason is the message)."""


def clean_body(raw: object) -> str:
    """The body to store: trimmed, 1..MAX_BODY characters, no control characters."""
    if not isinstance(raw, str):
        raise ChatBodyError("body must be a string")
    body = raw.strip()
    if not body:
        raise ChatBodyError("body is empty")
    if len(body) > MAX_BODY:
        raise ChatBodyError(f"body is longer than {MAX_BODY} characters")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in body):
        raise ChatBodyError("body contains control characters")
    return body


def body_error(reason: str) -> ApiError:
    return ApiError(
        ErrorCode.VALIDATION_FAILED,
        f"Chat message {reason}",
        details=[{"field": "body", "reason": f"1-{MAX_BODY} characters, no control characters"}],
    )


def parse_channel(raw: object) -> ChatChannel:
    try:
        return ChatChannel(str(raw)) if isinstance(raw, str) else ChatChannel("")
    except ValueError:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "channel must be players or spectators",
            details=[{"field": "channel", "reason": "one of players, spectators"}],
        ) from None


def can_read(channel: ChatChannel | str, seat: int | None, status: str | None) -> bool:
    """May a viewer seated at ``seat`` (None: not seated) read ``channel`` in this status?"""
    if channel == ChatChannel.PLAYERS:
        return seat is not None
    if channel == ChatChannel.SPECTATORS:
        return seat is None or (status is not None and status not in OPEN_STATUSES)
    return False


def readable(seat: int | None, status: str | None) -> tuple[ChatChannel, ...]:
    return tuple(c for c in ChatChannel if can_read(c, seat, status))


@dataclass(frozen=True)
class MessageView:
    id: str
    game_id: str
    channel: ChatChannel
    seq: int
    user_id: str | None
    username: str | None
    body: str | None  # None once removed
    created_at: datetime
    removed: Removal | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "gameId": self.game_id,
            "channel": self.channel.value,
            "seq": self.seq,
            "userId": self.user_id,
            "username": self.username,
            "body": self.body,
            "createdAt": self.created_at.isoformat(),
            "removed": self.removed.value if self.removed is not None else None,
        }


def removal_of(message: ChatMessage) -> Removal | None:
    if message.removed_at is None:
        return None
    # Account deletion blanks the text; a moderator's removal keeps it for the reports.
    return Removal.AUTHOR_DELETED if message.body == "" else Removal.MODERATOR


def view(message: ChatMessage, username: str | None) -> MessageView:
    removed = removal_of(message)
    return MessageView(
        id=message.id,
        game_id=message.game_id,
        channel=ChatChannel(message.channel),
        seq=message.seq,
        user_id=message.user_id,
        username=username,
        body=None if removed is not None else message.body,
        created_at=message.created_at,
        removed=removed,
    )


def ensure_may_post(user: User) -> None:
    if user.deleted_at is not None:
        raise ApiError(ErrorCode.AUTH_TOKEN_INVALID, "Token subject no longer exists")
    if user.banned_at is not None:
        raise ApiError(ErrorCode.AUTH_ACCOUNT_BANNED)
    muted = user.chat_muted_until
    if muted is not None and muted > utcnow():
        raise ApiError(
            ErrorCode.CHAT_MUTED,
            f"You are muted in chat until {muted.isoformat()}",
            details={"mutedUntil": muted.isoformat()},
        )


async def _viewer_seat(ctx: AppContext, game_id: str, user: User | None) -> tuple[int | None, str]:
    loaded = await store.get_game(ctx, game_id, user)
    seat = loaded.seat_of(user.id) if user is not None else None
    return (seat.seat if seat is not None else None), loaded.game.status


async def _insert(
    session: AsyncSession, game_id: str, channel: ChatChannel, user: User, body: str
) -> ChatMessage:
    for _attempt in range(INSERT_ATTEMPTS):
        last = await session.scalar(
            select(func.max(ChatMessage.seq)).where(
                ChatMessage.game_id == game_id, ChatMessage.channel == channel
            )
        )
        message = ChatMessage(
            game_id=game_id,
            channel=channel,
            seq=int(last or 0) + 1,
            user_id=user.id,
            body=body,
            created_at=utcnow(),
        )
        session.add(message)
        try:
            await session.commit()
            return message
        except IntegrityError:  # another post took this seq a moment ago: take the next one
            await session.rollback()
    raise ApiError(ErrorCode.SERVER_INTERNAL_ERROR, "Chat is too busy; try again")


async def post(
    ctx: AppContext, user: User, game_id: str, channel: ChatChannel, raw_body: object
) -> MessageView:
    """Validate, store and publish one message. Nothing is stored on any error."""
    try:
        body = clean_body(raw_body)
    except ChatBodyError as error:
        raise body_error(str(error)) from None
    ensure_may_post(user)
    async with ctx.db.session() as session:
        fresh = await session.get(User, user.id)
    if fresh is None:
        raise ApiError(ErrorCode.AUTH_TOKEN_INVALID, "Token subject no longer exists")
    ensure_may_post(fresh)  # a mute or ban given since the socket authenticated
    seat, status = await _viewer_seat(ctx, game_id, user)
    if not can_read(channel, seat, status):
        raise ApiError(
            ErrorCode.CHAT_CHANNEL_FORBIDDEN,
            f"You cannot post in the {channel.value} channel of this game",
            details={"channel": channel.value},
        )
    settings = ctx.settings
    window = settings.rate_limit_chat_window_seconds
    await ctx.limiter.enforce(Bucket.CHAT, user.id, settings.rate_limit_chat_messages, window)
    await ctx.limiter.enforce(Bucket.CHAT_GAME, game_id, settings.rate_limit_chat_per_game, window)
    async with ctx.db.session() as session:
        message = await _insert(session, game_id, channel, fresh, body)
        result = view(message, fresh.username)
    publish(ctx, ChatEvent(game_id, channel.value, result.seq, result.to_json()))
    return result


def publish(ctx: AppContext, event: ChatEvent) -> None:
    ctx.bus.publish(event.to_json())


async def publish_direct(redis: ResilientRedis, keyring: Keyring, event: ChatEvent) -> bool:
    """Publish ``event`` to every app instance from outside one (the ``ringrift admin`` CLI),
    signed like the bus signs. False when Redis is unavailable: sockets then learn of the
    change when they next catch up (join or resync)."""
    payload = codec.dumps({"origin": "cli", **sign_event(keyring, event.to_json())})
    try:
        await redis.call(lambda client: client.publish(EVENTS_CHANNEL, payload), name="PUBLISH")
    except RedisUnavailable:
        return False
    return True


@dataclass(frozen=True)
class History:
    messages: list[MessageView]
    removed: list[int]  # seqs up to ``after`` removed (in the last ``limit`` messages)
    latest: int  # the channel's latest seq (0 = none yet)


async def history(
    db: Database, game_id: str, channel: ChatChannel, after: int | None, limit: int
) -> History:
    """Messages with seq > ``after`` (oldest first, at most ``limit``: the first ones after
    ``after``, or the latest ones when ``after`` is None)."""
    async with db.session() as session:
        latest = int(
            await session.scalar(
                select(func.max(ChatMessage.seq)).where(
                    ChatMessage.game_id == game_id, ChatMessage.channel == channel
                )
            )
            or 0
        )
        query = (
            select(ChatMessage, User.username)
            .outerjoin(User, User.id == ChatMessage.user_id)
            .where(ChatMessage.game_id == game_id, ChatMessage.channel == channel)
        )
        if after is None:
            newest = await session.execute(query.order_by(ChatMessage.seq.desc()).limit(limit))
            rows = list(reversed(newest.all()))
            removed: list[int] = []
        else:
            rows = list(
                (
                    await session.execute(
                        query.where(ChatMessage.seq > after).order_by(ChatMessage.seq).limit(limit)
                    )
                ).all()
            )
            removed = list(
                (
                    await session.scalars(
                        select(ChatMessage.seq)
                        .where(
                            ChatMessage.game_id == game_id,
                            ChatMessage.channel == channel,
                            ChatMessage.seq <= after,
                            ChatMessage.seq > after - limit,
                            ChatMessage.removed_at.is_not(None),
                        )
                        .order_by(ChatMessage.seq)
                    )
                ).all()
            )
    return History([view(m, name) for m, name in rows], removed, latest)


async def read(
    ctx: AppContext, viewer: User | None, game_id: str, channel: ChatChannel, after: int | None
) -> History:
    """REST read of one channel, with the same visibility as the socket."""
    seat, status = await _viewer_seat(ctx, game_id, viewer)
    if not can_read(channel, seat, status):
        raise ApiError(
            ErrorCode.CHAT_CHANNEL_FORBIDDEN,
            f"You cannot read the {channel.value} channel of this game",
            details={"channel": channel.value},
        )
    return await history(ctx.db, game_id, channel, after, ctx.settings.chat_history_limit)


async def get_message(db: Database, message_id: str) -> tuple[ChatMessage, str | None]:
    async with db.session() as session:
        row = (
            await session.execute(
                select(ChatMessage, User.username)
                .outerjoin(User, User.id == ChatMessage.user_id)
                .where(ChatMessage.id == message_id)
            )
        ).first()
    if row is None:
        raise ApiError(ErrorCode.CHAT_MESSAGE_NOT_FOUND)
    return row[0], row[1]


async def ensure_may_read_message(ctx: AppContext, user: User, message: ChatMessage) -> None:
    """Only someone who can read a message's channel may report it (else: not found)."""
    try:
        seat, status = await _viewer_seat(ctx, message.game_id, user)
    except ApiError:
        raise ApiError(ErrorCode.CHAT_MESSAGE_NOT_FOUND) from None
    if not can_read(message.channel, seat, status):
        raise ApiError(ErrorCode.CHAT_MESSAGE_NOT_FOUND)


async def remove(db: Database, message_id: str, by_user_id: str | None) -> ChatEvent:
    """Remove a message (idempotent: the first removal is kept); returns the event that tells
    every socket. ``by_user_id`` is the moderator (None: an operator through the CLI)."""
    async with db.session() as session:
        message = await session.get(ChatMessage, message_id)
        if message is None:
            raise ApiError(ErrorCode.CHAT_MESSAGE_NOT_FOUND)
        if message.removed_at is None:
            message.removed_at = utcnow()
            message.removed_by = by_user_id
            await session.commit()
        username = None
        if message.user_id is not None:
            author = await session.get(User, message.user_id)
            username = author.username if author is not None else None
        return removal_event(message, username)


def removal_event(message: ChatMessage, username: str | None) -> ChatEvent:
    """The bus event telling readers that ``message`` lost its text."""
    result = view(message, username)
    return ChatEvent(result.game_id, result.channel.value, result.seq, result.to_json(), True)
