"""The WebSocket API: ``GET /ws`` with JSON frames ``{"t": type, "d": data}``; the frame
contract is in docs/server.md and the frame types in ``frames.py``.

Model (the database is the truth, a move is a small versioned event): every game has a
version ``v`` (applied moves). Each socket remembers, per joined game, the last version it was
sent. A move event with the next version is forwarded as an ``event`` frame (the move plus a
merge patch of the position); one it already has is dropped; after a gap the socket gets one
full ``state`` read from the database (O(board), never O(history)). A join without ``v``, a
``resync``, or a join whose ``v`` is not the current version gets a ``state``. Only the seated
player to move gets ``legalMoves``; spectators (anyone may watch a game that is not private)
get the rest.

Each socket has one outbound pump task fed by a queue of typed items, so a slow socket never
delays others; a queue that overflows is replaced by a ``resync`` frame and a re-read from the
database. Frames from a client are handled one at a time, in order. Anything wrong with a frame
gets an ``error`` frame with a catalogue code and changes nothing; the connection stays open.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, User
from ringrift.server.db.session import DatabaseUnavailable, is_database_unavailable
from ringrift.server.domain import GameStatus
from ringrift.server.errors import ApiError, ErrorCode, default_message
from ringrift.server.events import MoveEvent, event_from_json, now_ms
from ringrift.server.frames import (
    AckFrame,
    ClientFrame,
    ErrorFrame,
    EventFrame,
    EventItem,
    Frame,
    OverflowItem,
    QueueItem,
    ResyncFrame,
    StateFrame,
    SyncItem,
    encode,
)
from ringrift.server.positions import LRU
from ringrift.server.services import ai_turns, moves, store
from ringrift.server.services import auth as auth_service
from ringrift.server.wsinput import (
    FrameError,
    ack_of,
    game_id_of,
    parse_frame,
    version_of,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["realtime"])

__all__ = ["FrameError", "Hub", "parse_frame", "router"]

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
LEGAL_CACHE_SIZE = 512
ACTIVE = GameStatus.ACTIVE.value


@dataclass
class Subscription:
    game_id: str
    seat: int | None  # the viewer's seat, None for spectators
    v: int  # last version sent to this socket; -1 = nothing yet
    status: str | None = None


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
            if isinstance(event, MoveEvent):
                await self._on_move(sub, event)
            elif event.v >= sub.v:
                # A status change (start, resignation, cancellation): no new version, so the
                # current position is re-read and sent whole.
                await self._sync(sub, full=True)
        elif isinstance(item, SyncItem):
            sub = self.subs.get(item.game_id)
            if sub is not None:
                await self._sync(sub, full=item.full, prompt=item.prompt)
        else:
            await self.send(ResyncFrame("too many pending events"))
            for sub in list(self.subs.values()):
                await self._sync(sub, full=False)

    async def _on_move(self, sub: Subscription, event: MoveEvent) -> None:
        if event.v <= sub.v:
            return
        if event.v != sub.v + 1:
            await self._sync(sub, full=True)
            return
        offer = sub.seat is not None and sub.seat == event.to_move
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
                legal_moves=event.legal_moves if offer else None,
                server_time=event.server_time,
            )
        )
        sub.v = event.v
        sub.status = event.status

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
            await self.send(self.hub.state_frame(sub, game))
        sub.v = game.version
        sub.status = game.status


class Hub:
    """This instance's sockets and which games they watch."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.connections: set[Connection] = set()
        self.by_game: dict[str, set[Connection]] = collections.defaultdict(set)
        self.closing = False
        self._legal: LRU[tuple[str, int], list[dict[str, Any]]] = LRU(LEGAL_CACHE_SIZE)

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

    def unsubscribe(self, conn: Connection, game_id: str) -> None:
        conn.subs.pop(game_id, None)
        watchers = self.by_game.get(game_id)
        if watchers is not None:
            watchers.discard(conn)
            if not watchers:
                del self.by_game[game_id]

    def dispatch(self, payload: dict[str, Any]) -> None:
        """Bus handler: queue an event for every local socket watching its game."""
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

    def legal_moves_json(self, game: Game) -> list[dict[str, Any]]:
        key = (game.id, game.version)
        cached = self._legal.get(key)
        if cached is None:
            cached = moves.legal_moves_json(store.position(self.ctx, game))
            self._legal.put(key, cached)
        return cached

    def state_frame(self, sub: Subscription, game: Game) -> StateFrame:
        offer = sub.seat is not None and game.status == ACTIVE and game.current_player == sub.seat
        return StateFrame(
            game_id=sub.game_id,
            v=game.version,
            status=game.status,
            state=game.state,
            your_seat=sub.seat,
            legal_moves=self.legal_moves_json(game) if offer else None,
            winner=game.winner_seat,
            end_reason=game.end_reason,
            server_time=now_ms(),
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


# --- the endpoint ---------------------------------------------------------------------------


class Session:
    """One authenticated socket: reads frames and answers them in order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ctx = conn.ctx

    async def handle(self, text: str) -> None:
        ack: Any = None
        frame_type = "invalid"
        try:
            frame_type, data = parse_frame(text, self.ctx.settings.ws_max_frame_bytes)
            self.ctx.metrics.ws_frames.labels(direction="in", type=_frame_label(frame_type)).inc()
            ack = data.get("ack") if isinstance(data.get("ack"), int | str) else None
            decision = await self.ctx.limiter.hit(
                "ws", self.conn.user.id, self.ctx.settings.rate_limit_ws_messages
            )
            if not decision.allowed:
                raise FrameError(
                    ErrorCode.RATE_LIMIT_EXCEEDED,
                    f"Too many messages; retry in {decision.retry_after}s",
                    {"retryAfter": decision.retry_after, "limit": decision.limit},
                )
            if frame_type == ClientFrame.JOIN:
                await self.join(data)
            elif frame_type == ClientFrame.MOVE:
                await self.move(data)
            elif frame_type == ClientFrame.LEAVE:
                await self.leave(data)
            elif frame_type == ClientFrame.RESYNC:
                await self.resync(data)
            elif frame_type == ClientFrame.AUTH:
                raise FrameError(ErrorCode.VALIDATION_FAILED, "already authenticated")
            else:
                raise FrameError(
                    ErrorCode.VALIDATION_FAILED,
                    f"unknown message type {frame_type[:32]!r}; expected join, move, leave or "
                    "resync",
                    [{"field": "t", "reason": "one of join, move, leave, resync"}],
                )
        except FrameError as error:
            await self.conn.send_error(error.code, error.message, error.details, ack)
        except ApiError as error:
            await self.conn.send_error(error.code, error.message, error.details, ack)
        except (DatabaseUnavailable, SQLAlchemyError) as error:
            if isinstance(error, SQLAlchemyError) and not is_database_unavailable(error):
                log.exception("websocket frame failed", extra={"type": frame_type})
                code = ErrorCode.SERVER_INTERNAL_ERROR
            else:
                self.ctx.metrics.db_unavailable.inc()
                code = ErrorCode.SERVER_DATABASE_UNAVAILABLE
            await self.conn.send_error(code, default_message(code), None, ack)
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("websocket frame failed", extra={"type": frame_type})
            await self.conn.send_error(
                ErrorCode.SERVER_INTERNAL_ERROR,
                default_message(ErrorCode.SERVER_INTERNAL_ERROR),
                None,
                ack,
            )

    async def join(self, data: dict[str, Any]) -> None:
        game_id = game_id_of(data)
        version = version_of(data, required=False)
        ack = ack_of(data)
        loaded = await store.get_game(self.ctx, game_id, self.conn.user)
        seat = loaded.seat_of(self.conn.user.id)
        hub = self.conn.hub
        if game_id in self.conn.subs:
            hub.unsubscribe(self.conn, game_id)
        sub = Subscription(
            game_id,
            seat.seat if seat is not None else None,
            -1 if version is None else version,
            None if version is None else loaded.game.status,
        )
        # Subscribe first, then read: an event racing with the read is dropped or filled by
        # version in the pump, never lost.
        hub.subscribe(self.conn, sub)
        self.conn.enqueue(SyncItem(game_id, full=version is None, prompt=True))
        if ack is not None:
            await self.conn.send(AckFrame(ack, game_id, loaded.game.version))
        if ai_turns.ai_to_move(loaded):
            # Also recovers AI turns left unplayed by a crashed or restarted instance.
            ai_turns.schedule_ai_turns(self.ctx, game_id)

    async def resync(self, data: dict[str, Any]) -> None:
        """Ask for the full state of a joined game (same answer as a join without ``v``)."""
        game_id = game_id_of(data)
        if game_id not in self.conn.subs:
            raise FrameError(
                ErrorCode.VALIDATION_FAILED,
                f"not joined to game {game_id}; send join first",
                [{"field": "gameId", "reason": "not joined"}],
            )
        self.conn.enqueue(SyncItem(game_id, full=True, prompt=True))

    async def move(self, data: dict[str, Any]) -> None:
        game_id = game_id_of(data)
        version = version_of(data, required=True)
        assert version is not None
        ack = ack_of(data)
        move = data.get("move")
        if not isinstance(move, dict):
            raise FrameError(
                ErrorCode.VALIDATION_FAILED,
                "move must be a wire-format move object",
                [{"field": "move", "reason": "object"}],
            )
        if game_id not in self.conn.subs:
            raise FrameError(
                ErrorCode.VALIDATION_FAILED,
                f"not joined to game {game_id}; send join first",
                [{"field": "gameId", "reason": "not joined"}],
            )
        settings = self.ctx.settings
        await self.ctx.limiter.enforce("moves", self.conn.user.id, settings.rate_limit_moves)
        committed = await moves.play_human_move(self.ctx, self.conn.user, game_id, move, version)
        await self.conn.send(AckFrame(ack, game_id, committed.version))
        if ai_turns.ai_to_move(committed.loaded):
            if settings.ws_ai_in_background:
                ai_turns.schedule_ai_turns(self.ctx, game_id)
            else:
                known = ai_turns.Known(committed.version, committed.position, committed.loaded)
                await ai_turns.play_ai_turns(self.ctx, game_id, known)

    async def leave(self, data: dict[str, Any]) -> None:
        if "gameId" not in data:
            for game_id in list(self.conn.subs):
                self.conn.hub.unsubscribe(self.conn, game_id)
            left: str | None = None
        else:
            left = game_id_of(data)
            if left not in self.conn.subs:
                raise FrameError(
                    ErrorCode.VALIDATION_FAILED,
                    f"not joined to game {left}",
                    [{"field": "gameId", "reason": "not joined"}],
                )
            self.conn.hub.unsubscribe(self.conn, left)
        ack = ack_of(data)
        if ack is not None:
            await self.conn.send(AckFrame(ack, left))


KNOWN_TYPES = {f.value for f in ClientFrame}


def _frame_label(frame_type: str) -> str:
    return frame_type if frame_type in KNOWN_TYPES else "unknown"


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason)


async def _authenticate(websocket: WebSocket, ctx: AppContext) -> User | None:
    """The user behind ``?token=`` or a first ``auth {token}`` frame; on failure an error
    frame is sent, the socket closed and None returned."""
    token = websocket.query_params.get("token")
    if not token:
        try:
            text = await asyncio.wait_for(
                websocket.receive_text(), ctx.settings.ws_auth_timeout_seconds
            )
            frame_type, data = parse_frame(text, ctx.settings.ws_max_frame_bytes)
            token = data.get("token")
            if frame_type != "auth" or not isinstance(token, str) or not token:
                raise FrameError(
                    ErrorCode.AUTH_REQUIRED,
                    'authenticate with ?token= or a first frame {"t":"auth","d":{"token":...}}',
                )
        except TimeoutError:
            await _send_raw_error(websocket, ErrorCode.AUTH_REQUIRED, "authentication timed out")
            await _close(websocket, CLOSE_POLICY, "authentication required")
            return None
        except FrameError as error:
            code: ErrorCode = ErrorCode.AUTH_REQUIRED
            await _send_raw_error(websocket, code, error.message)
            await _close(websocket, CLOSE_POLICY, "authentication required")
            return None
        except (WebSocketDisconnect, RuntimeError, KeyError):
            return None
    try:
        return await auth_service.authenticate(ctx, token)
    except ApiError as error:
        await _send_raw_error(websocket, error.code, error.message)
        await _close(websocket, CLOSE_POLICY, "authentication failed")
    except (DatabaseUnavailable, SQLAlchemyError):
        code = ErrorCode.SERVER_DATABASE_UNAVAILABLE
        await _send_raw_error(websocket, code, default_message(code))
        await _close(websocket, CLOSE_TRY_AGAIN, "database unavailable")
    return None


async def _send_raw_error(websocket: WebSocket, code: ErrorCode, message: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(
            json.dumps({"t": "error", "d": {"code": code.value, "message": message}})
        )


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    ctx: AppContext = websocket.app.state.ctx
    hub: Hub = ctx.hub
    await websocket.accept()
    if hub.closing:
        await _close(websocket, CLOSE_GOING_AWAY, "server shutting down")
        return
    user = await _authenticate(websocket, ctx)
    if user is None:
        return
    conn = Connection(websocket, user, hub)
    hub.add(conn)
    session = Session(conn)
    pump = asyncio.create_task(conn.pump(), name=f"ws-pump-{conn.id}")
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                await conn.send_error(
                    ErrorCode.VALIDATION_FAILED, "binary frames are not supported; send JSON text"
                )
                continue
            await session.handle(text)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        hub.remove(conn)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
