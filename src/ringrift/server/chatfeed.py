"""Chat delivery to one socket (used by ``hub.Connection``): live ``chat`` frames in seq order
per channel, and ``chatHistory`` catch-ups read from the database.

Each subscription remembers, per channel it may read, the last seq it was sent. A message
with the next seq becomes a ``chat`` frame; one it already has is dropped; after a gap (an
event lost while Redis was down, say) the socket gets a ``chatHistory`` from the database. A
removal of a message the socket has is forwarded as a ``chat`` frame with ``removed`` set.
Channels the viewer may not read (``services/chat.can_read``) are never sent. Chat is opt-in:
only a subscription joined with a ``chat`` field (``{}`` when the client has nothing yet) gets
chat frames, so clients that do not know chat see the frame contract they always had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ringrift.server.events import ChatEvent
from ringrift.server.frames import ChatFrame, ChatHistoryFrame, ChatSyncItem
from ringrift.server.services import chat

if TYPE_CHECKING:
    from ringrift.server.hub import Connection, Subscription


async def on_event(conn: Connection, sub: Subscription, event: ChatEvent) -> None:
    if not chat.can_read(event.channel, sub.seat, sub.status):
        return
    known = sub.chat.get(event.channel)
    if known is None:
        return  # no history sent yet: the pending catch-up brings this message
    if event.removal:
        if event.seq <= known:
            await conn.send(ChatFrame(sub.game_id, event.channel, event.message))
        return
    if event.seq <= known:
        return
    if event.seq != known + 1:
        await sync(conn, sub, ChatSyncItem(sub.game_id, channels=(event.channel,)))
        return
    await conn.send(ChatFrame(sub.game_id, event.channel, event.message))
    sub.chat[event.channel] = event.seq


async def sync(conn: Connection, sub: Subscription, item: ChatSyncItem) -> None:
    """Send each readable channel what the socket is missing."""
    if not sub.wants_chat:
        return
    channels = chat.readable(sub.seat, sub.status)
    limit = conn.ctx.settings.chat_history_limit
    for channel in channels:
        if item.channels is not None and channel.value not in item.channels:
            continue
        if item.after is not None:
            after = item.after.get(channel.value)
        else:
            after = sub.chat.get(channel.value)
        while True:
            found = await chat.history(conn.ctx.db, sub.game_id, channel, after, limit)
            last = found.messages[-1].seq if found.messages else (after or 0)
            await conn.send(
                ChatHistoryFrame(
                    sub.game_id,
                    channel.value,
                    [m.to_json() for m in found.messages],
                    found.removed,
                    found.latest,
                    [c.value for c in channels],
                )
            )
            # A long gap comes in pages; the latest ones only when the client had nothing.
            if after is None or last >= found.latest or not found.messages:
                break
            after = last
        sub.chat[channel.value] = max(found.latest, sub.chat.get(channel.value, 0))


def status_changed(conn: Connection, sub: Subscription, before: str | None) -> None:
    """A status change may open a channel (players see spectators once the game is over)."""
    if not sub.wants_chat or before is None or before == sub.status:
        return
    opened = [
        c.value
        for c in chat.readable(sub.seat, sub.status)
        if c not in chat.readable(sub.seat, before) and c.value not in sub.chat
    ]
    if opened:
        conn.enqueue(ChatSyncItem(sub.game_id, after={}, channels=tuple(opened)))
