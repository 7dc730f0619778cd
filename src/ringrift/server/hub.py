"""Delivery of game events to this instance's sockets: which socket watches which game
(``Hub``), and per socket (``Connection``) one outbound queue of typed items drained in order by
one pump task, so a slow socket never delays others.

Each socket remembers, per joined game, the last version it was sent. A move event with the
next version becomes an ``event`` frame; one it already has is dropped; after a gap the socket
gets one full ``state`` read from the database (O(board), never O(history)). A queue that
overflows is replaced by a ``resync`` frame and a re-read from the database.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ringrift.server import chatfeed
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, GameSeat, User
from ringrift.server.db.session import DatabaseUnavailable, is_database_unavailable
from ringrift.server.domain import GameStatus
from ringrift.server.errors import ErrorCode
from ringrift.server.events import (
    ChatEvent,
    MoveEvent,
    PresenceEvent,
    RematchEvent,
    event_from_json,
    now_ms,
)
from ringrift.server.frames import (
    ChatSyncItem,
    ErrorFrame,
    EventFrame,
    EventItem,
    Frame,
    OverflowItem,
    PresenceFrame,
    QueueItem,
    RematchFrame,
    ResyncFrame,
    StateFrame,
    SyncItem,
    encode,
)
from ringrift.server.presence import Presence, seat_presence, tracked
from ringrift.server.services import store, timing

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001
ACTIVE = GameStatus.ACTIVE.value


async def close_quietly(ws: WebSocket, code: int, reason: str) -> None:
    """Close a socket with a close code the client understands; a socket the peer already
    dropped cannot be closed twice, and that is not an error."""
    with contextlib.suppress(Exception):
        await ws.close(code=code, reason=reason)


@dataclass
class Subscription:
    game_id: str
    seat: int | None  # the viewer's seat, None for spectators
    v: int  # last version sent to this socket; -1 = nothing yet
    status: str | None = None
    tracked: bool = False  # a Fischer game: the seat's presence counts (presence.py)
    # Chat is opt-in per join (a ``chat`` field, see chatfeed.py): clients that never ask
    # get no chat frames at all.
    wants_chat: bool = False
    chat: dict[str, int] = field(default_factory=dict)  # channel -> last chat seq sent


class Connection:
    _ids = itertools.count(1)

    def __init__(self, websocket: WebSocket, user: User, hub: Hub) -> None:
        self.id = next(self._ids)
        self.ws = websocket
        self.user = user
        self.hub = hub
        self.ctx = hub.ctx
        self.subs: dict[str, Subscription] = {}
        self.queue: asyncio.Queue[QueueItem] = asyncio.Queue()
        self._send_lock = asyncio.Lock()

    @property
    def user_id(self) -> str:
        return str(self.user.id)

    async def close_socket(self, code: int, reason: str) -> None:
        await close_quietly(self.ws, code, reason)

    @property
    def open(self) -> bool:
        return (
            self.ws.application_state == WebSocketState.CONNECTED
            and self.ws.client_state == WebSocketState.CONNECTED
        )

    # -- output --------------------------------------------------------------------------

    async def send(self, frame: Frame) -> None:
        text = encode(frame)
        async with self._send_lock:
            await self.ws.send_text(text)
        self.ctx.metrics.ws_frames.labels(direction="out", type=frame.type.value).inc()

    async def send_error(
        self, code: ErrorCode, message: str, details: Any = None, ack: Any = None
    ) -> None:
        self.ctx.metrics.ws_errors.labels(code=code.value).inc()
        await self.send(ErrorFrame(code.value, message, details, ack))

    def enqueue(self, item: QueueItem) -> None:
        if self.queue.qsize() >= self.ctx.settings.ws_queue_limit:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(OverflowItem())
            return
        self.queue.put_nowait(item)

    async def pump(self) -> None:
        """Deliver queued events and resyncs in order; the only writer of game frames."""
        while True:
            item = await self.queue.get()
            try:
                await self._process(item)
            except (WebSocketDisconnect, OSError):
                return
            except RuntimeError:
                # Starlette raises RuntimeError for a send after close; anything else is a bug
                # that must not silently stop this socket's deliveries.
                if not self.open:
                    return
                log.exception("websocket delivery failed", extra={"conn": self.id})
            except Exception as error:
                if isinstance(error, DatabaseUnavailable) or (
                    isinstance(error, SQLAlchemyError) and is_database_unavailable(error)
                ):
                    # The socket may now be behind; tell the client to resync by version.
                    with contextlib.suppress(Exception):
                        await self.send(ResyncFrame("database unavailable"))
                else:
                    log.exception("websocket delivery failed", extra={"conn": self.id})

    async def _process(self, item: QueueItem) -> None:
        if isinstance(item, EventItem):
            event = item.event
            sub = self.subs.get(event.game_id)
            if sub is None:
                return
            if isinstance(event, PresenceEvent):
                await self.send(
                    PresenceFrame(
                        event.game_id,
                        event.seat,
                        event.online,
                        event.since,
                        event.claimable_at,
                        now_ms(),
                    )
                )
            elif isinstance(event, MoveEvent):
                await self._on_move(sub, event)
            elif isinstance(event, RematchEvent):
                await self.send(
                    RematchFrame(
                        event.game_id,
                        event.status,
                        event.offered_by,
                        event.accepted,
                        event.declined_by,
                        event.new_game_id,
                    )
                )
            elif isinstance(event, ChatEvent):
                await chatfeed.on_event(self, sub, event)
            elif event.v >= sub.v:
                # A status change (start, resignation, cancellation): no new version, so the
                # current position is re-read and sent whole.
                await self._sync(sub, full=True)
        elif isinstance(item, SyncItem):
            sub = self.subs.get(item.game_id)
            if sub is not None:
                await self._sync(sub, full=item.full, prompt=item.prompt)
        elif isinstance(item, ChatSyncItem):
            sub = self.subs.get(item.game_id)
            if sub is not None:
                await chatfeed.sync(self, sub, item)
        else:
            await self.send(ResyncFrame("too many pending events"))
            for sub in list(self.subs.values()):
                await self._sync(sub, full=False)
                await chatfeed.sync(self, sub, ChatSyncItem(sub.game_id))

    async def _on_move(self, sub: Subscription, event: MoveEvent) -> None:
        if event.v <= sub.v:
            return
        if event.v != sub.v + 1:
            await self._sync(sub, full=True)
            return
        offer = sub.seat is not None and sub.seat == event.to_move
        legal = event.legal_moves if offer else None
        # A player here: keep this instance's position in step with the game, so that neither
        # the offer below nor the player's next move reads and parses the stored one.
        position = (
            None
            if sub.seat is None
            else self.ctx.positions.follow(sub.game_id, event.v, event.move, event.hash)
        )
        if offer and legal is None and event.prompt:
            if position is not None:
                legal = position.legal_json if event.status == ACTIVE else None
            else:
                legal = await self._legal_at(sub.game_id, event.v)
        await self.send(
            EventFrame(
                game_id=sub.game_id,
                v=event.v,
                move=event.move,
                by=event.by,
                auto=event.auto,
                hash=event.hash,
                status=event.status,
                winner=event.winner,
                end_reason=event.end_reason,
                patch=event.patch,
                legal_moves=legal,
                server_time=event.server_time,
                clocks=event.clocks,
            )
        )
        sub.v = event.v
        before, sub.status = sub.status, event.status
        chatfeed.status_changed(self, sub, before)

    async def _legal_at(self, game_id: str, version: int) -> list[dict[str, Any]] | None:
        """Legal moves at ``version`` for an event from another instance (which leaves them out
        of the bus payload), read from the database when this instance could not follow the
        game to that version; None when the game has moved on (a later event brings them)."""
        async with self.ctx.db.session() as session:
            game = await session.get(Game, game_id)
        if game is None or game.version != version or game.status != ACTIVE:
            return None
        return self.hub.legal_moves_json(game)

    async def _sync(self, sub: Subscription, *, full: bool, prompt: bool = False) -> None:
        """Bring one subscription up to the database. ``full`` (join without ``v``, resync) or a
        version other than the socket's gets a ``state``; with ``prompt`` (a join at the current
        version) the seated player to move gets one too, for its legal moves."""
        async with self.ctx.db.session() as session:
            game = await session.get(Game, sub.game_id)
        if game is None:
            return
        to_move = sub.seat is not None and game.status == ACTIVE and game.current_player == sub.seat
        changed = sub.status != game.status
        if full or game.version != sub.v or changed or (prompt and to_move):
            presence = await self.hub.presence_of(game)
            await self.send(self.hub.state_frame(sub, game, presence))
        sub.v = game.version
        before, sub.status = sub.status, game.status
        chatfeed.status_changed(self, sub, before)


class Hub:
    """This instance's sockets and which games they watch."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.connections: set[Connection] = set()
        self.by_game: dict[str, set[Connection]] = collections.defaultdict(set)
        self.closing = False
        self.presence = Presence(ctx)

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.ctx.metrics.ws_connections.set(len(self.connections))

    def remove(self, conn: Connection) -> None:
        self.connections.discard(conn)
        for game_id in list(conn.subs):
            self.unsubscribe(conn, game_id)
        self.ctx.metrics.ws_connections.set(len(self.connections))

    def subscribe(self, conn: Connection, sub: Subscription) -> None:
        conn.subs[sub.game_id] = sub
        self.by_game[sub.game_id].add(conn)
        if sub.tracked and sub.seat is not None:
            self.presence.up(sub.game_id, sub.seat, conn.id)

    def unsubscribe(self, conn: Connection, game_id: str) -> None:
        sub = conn.subs.pop(game_id, None)
        if sub is not None and sub.tracked and sub.seat is not None:
            self.presence.down(game_id, sub.seat, conn.id)
        watchers = self.by_game.get(game_id)
        if watchers is not None:
            watchers.discard(conn)
            if not watchers:
                del self.by_game[game_id]

    def dispatch(self, payload: dict[str, Any]) -> None:
        """Bus handler: queue an event for every local socket watching its game."""
        if payload.get("kind") == "lobby":
            return  # lobby changes are server/lobby.py's
        watchers = self.by_game.get(str(payload.get("gameId")))
        if not watchers:
            return
        event = event_from_json(payload)
        if event is None:
            log.warning("dropped a malformed bus event", extra={"gameId": payload.get("gameId")})
            return
        item = EventItem(event)
        for conn in list(watchers):
            conn.enqueue(item)

    def resync_all(self) -> None:
        """Bus resubscribe hook: every socket re-reads its games' versions from the database."""
        for conn in list(self.connections):
            for game_id in list(conn.subs):
                conn.enqueue(SyncItem(game_id, full=False))
                conn.enqueue(ChatSyncItem(game_id))

    def legal_moves_json(self, game: Game) -> list[dict[str, Any]]:
        """The legal moves of ``game``'s loaded position, generated once per position (the
        position cache holds them with it)."""
        return store.position(self.ctx, game).legal_json

    async def presence_of(self, game: Game) -> list[dict[str, Any]] | None:
        """Presence per human seat of a Fischer game (None for other games)."""
        if not tracked(game.time_control):
            return None
        async with self.ctx.db.session() as session:
            seats = (
                await session.scalars(
                    select(GameSeat).where(GameSeat.game_id == game.id).order_by(GameSeat.seat)
                )
            ).all()
        grace = self.ctx.settings.presence_grace_seconds
        found = (seat_presence(game, seat, grace) for seat in seats)
        return [p.to_json() for p in found if p is not None]

    def state_frame(
        self, sub: Subscription, game: Game, presence: list[dict[str, Any]] | None = None
    ) -> StateFrame:
        offer = sub.seat is not None and game.status == ACTIVE and game.current_player == sub.seat
        stamp = now_ms()
        return StateFrame(
            game_id=sub.game_id,
            v=game.version,
            status=game.status,
            state=game.state,
            your_seat=sub.seat,
            legal_moves=self.legal_moves_json(game) if offer else None,
            winner=game.winner_seat,
            end_reason=game.end_reason,
            server_time=stamp,
            clocks=timing.clocks_json(game, stamp),
            presence=presence,
        )

    async def close_all(
        self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutdown"
    ) -> None:
        """Graceful shutdown: refuse new sockets and close every open one with ``code``."""
        self.closing = True
        conns = list(self.connections)

        async def close(conn: Connection) -> None:
            with contextlib.suppress(Exception):
                async with conn._send_lock:
                    if conn.ws.application_state == WebSocketState.CONNECTED:
                        await asyncio.wait_for(conn.ws.close(code=code, reason=reason), 2.0)

        await asyncio.gather(*(close(c) for c in conns))
