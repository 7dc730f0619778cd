"""The WebSocket API: ``GET /ws?token=...`` (or a first ``auth`` frame) with JSON frames
``{"t": type, "d": data}``.

Client frames: ``auth {token}`` (only when no ``?token=``), ``join {gameId, v?, ack?}``,
``move {gameId, move, v, ack?}``, ``leave {gameId?}`` (stop watching one game, or all).
Server frames: ``state {gameId, v, state, status, legalMoves?}``, ``event {gameId, v, move,
player, status?}``, ``ack {ack, gameId, v}``, ``error {code, message, details?, ack?}``,
``resync {reason}``.

Model (the database is the truth): every game has a version ``v`` (applied moves). Each socket
remembers, per joined game, the last version it was sent. An incoming event with the next
version is forwarded; one it already has is dropped; a gap is filled from the moves table. A
join with ``v`` gets the moves after ``v`` as events, or one full ``state`` when ``v`` is missing,
ahead of the game, or more than ``ws_resync_threshold`` behind. Only the seated player to move
gets ``legalMoves``; spectators (anyone may watch a game that is not private) get the rest.

Each socket has one outbound pump task fed by a queue, so a slow socket never delays others; a
queue that overflows is replaced by a ``resync`` frame and a re-read from the database. Frames
from a client are handled one at a time, in order. Anything wrong with a frame gets an ``error``
frame with a catalogue code and changes nothing; the connection stays open.
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
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ringrift.rules import legal_moves
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, MoveRecord, User
from ringrift.server.db.session import DatabaseUnavailable, is_database_unavailable
from ringrift.server.errors import ApiError, ErrorCode, default_message
from ringrift.server.services import auth as auth_service
from ringrift.server.services import games as games_service

log = logging.getLogger(__name__)

router = APIRouter(tags=["realtime"])

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
MAX_ACK_LENGTH = 64
MAX_GAME_ID_LENGTH = 64
LEGAL_CACHE_SIZE = 512
ACTIVE, COMPLETED = games_service.ACTIVE, games_service.COMPLETED


class FrameError(Exception):
    """A client frame that cannot be served; becomes an ``error`` frame."""

    def __init__(self, code: ErrorCode, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


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
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._send_lock = asyncio.Lock()

    @property
    def open(self) -> bool:
        return (
            self.ws.application_state == WebSocketState.CONNECTED
            and self.ws.client_state == WebSocketState.CONNECTED
        )

    # -- output --------------------------------------------------------------------------

    async def send(self, frame_type: str, data: dict[str, Any]) -> None:
        text = json.dumps({"t": frame_type, "d": data}, separators=(",", ":"))
        async with self._send_lock:
            await self.ws.send_text(text)
        self.ctx.metrics.ws_frames.labels(direction="out", type=frame_type).inc()

    async def send_error(
        self, code: ErrorCode, message: str, details: Any = None, ack: Any = None
    ) -> None:
        data: dict[str, Any] = {"code": code.value, "message": message}
        if details is not None:
            data["details"] = details
        if ack is not None:
            data["ack"] = ack
        self.ctx.metrics.ws_errors.labels(code=code.value).inc()
        await self.send("error", data)

    def enqueue(self, item: tuple[Any, ...]) -> None:
        if self.queue.qsize() >= self.ctx.settings.ws_queue_limit:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(("overflow",))
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
                        await self.send("resync", {"reason": "database unavailable"})
                else:
                    log.exception("websocket delivery failed", extra={"conn": self.id})

    async def _process(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "event":
            await self._on_event(item[1])
        elif kind == "sync":
            sub = self.subs.get(item[1])
            if sub is not None:
                await self._sync(sub, full=bool(item[2]), prompt=len(item) > 3 and bool(item[3]))
        elif kind == "overflow":
            await self.send("resync", {"reason": "too many pending events"})
            for sub in list(self.subs.values()):
                await self._sync(sub, full=False)

    async def _on_event(self, event: dict[str, Any]) -> None:
        sub = self.subs.get(str(event.get("gameId")))
        version = event.get("v")
        if sub is None or not isinstance(version, int):
            return
        if event.get("kind") == "move":
            if version <= sub.v:
                return
            if version != sub.v + 1:
                await self._sync(sub, full=False)
                return
            await self.send("event", _event_data(sub.game_id, version, event))
            sub.v = version
            sub.status = event.get("status")
            await self._maybe_prompt(sub, event.get("state"), event.get("status"))
        else:  # status change (start, resignation, cancellation): no new version
            if version < sub.v:
                return
            if version > sub.v:
                await self._sync(sub, full=False)
                return
            sub.status = event.get("status")
            await self.send(
                "state",
                self.hub.state_data(sub, version, event.get("state"), event, include_legal=True),
            )

    async def _maybe_prompt(self, sub: Subscription, state: Any, status: Any) -> None:
        """Send the seated player to move a ``state`` with its legal moves."""
        if (
            sub.seat is not None
            and status == ACTIVE
            and isinstance(state, dict)
            and state.get("currentPlayer") == sub.seat
        ):
            await self.send(
                "state",
                self.hub.state_data(sub, sub.v, state, {"status": status}, include_legal=True),
            )

    async def _sync(self, sub: Subscription, *, full: bool, prompt: bool = False) -> None:
        """Bring one subscription up to the database: missed events, or a full state. With
        ``prompt`` (a join) the seated player to move always ends with a ``state`` carrying
        its legal moves, even when nothing was missed."""
        async with self.ctx.db.session() as session:
            game = await session.get(Game, sub.game_id)
            if game is None:
                return
            gap = game.version - sub.v
            too_far = sub.v < 0 or gap < 0 or gap > self.ctx.settings.ws_resync_threshold
            rows: list[MoveRecord] = []
            if not (full or too_far) and gap > 0:
                rows = list(
                    (
                        await session.scalars(
                            select(MoveRecord)
                            .where(
                                MoveRecord.game_id == sub.game_id,
                                MoveRecord.move_number > sub.v,
                                MoveRecord.move_number <= game.version,
                            )
                            .order_by(MoveRecord.move_number)
                        )
                    ).all()
                )
        meta = {"status": game.status, "winner": game.winner_seat, "endReason": game.end_reason}
        if full or too_far or len(rows) != gap:
            sub.v = game.version
            sub.status = game.status
            await self.send("state", self.hub.state_data(sub, game.version, game.state, meta, True))
            return
        for row in rows:
            last = row.move_number == game.version
            event = {"move": row.move, "player": row.player, **(meta if last else {})}
            if last and game.status == ACTIVE:
                event.pop("winner", None)
                event.pop("endReason", None)
            await self.send("event", _event_data(sub.game_id, row.move_number, event))
            sub.v = row.move_number
        status_changed = sub.status != game.status
        sub.status = game.status
        if rows or status_changed or prompt:
            if status_changed and not rows:
                await self.send(
                    "state", self.hub.state_data(sub, game.version, game.state, meta, True)
                )
            else:
                await self._maybe_prompt(sub, game.state, game.status)


def _event_data(game_id: str, version: int, event: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"gameId": game_id, "v": version, "move": event.get("move")}
    if event.get("player") is not None:
        data["player"] = event["player"]
    status = event.get("status")
    if status is not None and status != ACTIVE:
        data["status"] = status
        data["winner"] = event.get("winner")
        data["endReason"] = event.get("endReason")
    return data


class Hub:
    """This instance's sockets and which games they watch."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.connections: set[Connection] = set()
        self.by_game: dict[str, set[Connection]] = collections.defaultdict(set)
        self.closing = False
        self._legal: collections.OrderedDict[tuple[str, int], list[dict[str, Any]]] = (
            collections.OrderedDict()
        )

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

    def dispatch(self, event: dict[str, Any]) -> None:
        """Bus handler: queue an event for every local socket watching its game."""
        for conn in list(self.by_game.get(str(event.get("gameId")), ())):
            conn.enqueue(("event", event))

    def resync_all(self) -> None:
        """Bus resubscribe hook: every socket re-reads its games' versions from the database."""
        for conn in list(self.connections):
            for game_id in list(conn.subs):
                conn.enqueue(("sync", game_id, False))

    def legal_moves_json(self, game_id: str, version: int, state: dict[str, Any]) -> list[Any]:
        key = (game_id, version)
        cached = self._legal.get(key)
        if cached is None:
            parsed = games_service.parsed_state(self.ctx, game_id, version, state)
            cached = [m.to_json() for m in legal_moves(parsed)]
            self._legal[key] = cached
            if len(self._legal) > LEGAL_CACHE_SIZE:
                self._legal.popitem(last=False)
        return cached

    def state_data(
        self,
        sub: Subscription,
        version: int,
        state: Any,
        meta: dict[str, Any],
        include_legal: bool,
    ) -> dict[str, Any]:
        status = meta.get("status")
        data: dict[str, Any] = {
            "gameId": sub.game_id,
            "v": version,
            "status": status,
            "state": state,
            "yourSeat": sub.seat,
        }
        if status != ACTIVE and status is not None:
            data["winner"] = meta.get("winner")
            data["endReason"] = meta.get("endReason")
        if (
            include_legal
            and sub.seat is not None
            and status == ACTIVE
            and isinstance(state, dict)
            and state.get("currentPlayer") == sub.seat
        ):
            data["legalMoves"] = self.legal_moves_json(sub.game_id, version, state)
        return data

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


def _game_id(data: dict[str, Any]) -> str:
    game_id = data.get("gameId")
    if not isinstance(game_id, str) or not 1 <= len(game_id) <= MAX_GAME_ID_LENGTH:
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "gameId must be a string of 1-64 characters",
            [{"field": "gameId", "reason": "required string, 1-64 characters"}],
        )
    return game_id


def _version(data: dict[str, Any], *, required: bool) -> int | None:
    value = data.get("v")
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**31:
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "v must be a non-negative integer (the last game version you have)",
            [{"field": "v", "reason": "non-negative integer" + ("" if required else " or null")}],
        )
    return value


def _ack(data: dict[str, Any]) -> Any:
    ack = data.get("ack")
    if ack is None:
        return None
    if isinstance(ack, bool) or not isinstance(ack, int | str):
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "ack must be an integer or a string",
            [{"field": "ack", "reason": "integer or string of at most 64 characters"}],
        )
    if isinstance(ack, str) and len(ack) > MAX_ACK_LENGTH:
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "ack is too long",
            [{"field": "ack", "reason": "at most 64 characters"}],
        )
    if isinstance(ack, int) and not -(2**53) <= ack <= 2**53:
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "ack is out of range",
            [{"field": "ack", "reason": "integer within +-2^53"}],
        )
    return ack


def parse_frame(text: str, max_bytes: int) -> tuple[str, dict[str, Any]]:
    """Check a client frame's envelope; returns (type, data)."""
    if len(text) > max_bytes:
        raise FrameError(ErrorCode.VALIDATION_FAILED, f"frame larger than {max_bytes} bytes")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError(ErrorCode.VALIDATION_FAILED, "frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise FrameError(
            ErrorCode.VALIDATION_FAILED, 'frame must be a JSON object {"t": type, "d": data}'
        )
    frame_type = frame.get("t")
    if not isinstance(frame_type, str):
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "frame needs a string field t (the message type)",
            [{"field": "t", "reason": "required string"}],
        )
    data = frame.get("d", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "field d must be a JSON object",
            [{"field": "d", "reason": "object"}],
        )
    return frame_type, data


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
            if frame_type == "join":
                await self.join(data)
            elif frame_type == "move":
                await self.move(data)
            elif frame_type == "leave":
                await self.leave(data)
            elif frame_type == "auth":
                raise FrameError(ErrorCode.VALIDATION_FAILED, "already authenticated")
            else:
                raise FrameError(
                    ErrorCode.VALIDATION_FAILED,
                    f"unknown message type {frame_type[:32]!r}; expected join, move or leave",
                    [{"field": "t", "reason": "one of join, move, leave"}],
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
        game_id = _game_id(data)
        version = _version(data, required=False)
        ack = _ack(data)
        loaded = await games_service.get_game(self.ctx, game_id, self.conn.user)
        seat = loaded.seat_of(self.conn.user.id)
        hub = self.conn.hub
        existing = self.conn.subs.get(game_id)
        if existing is not None:
            hub.unsubscribe(self.conn, game_id)
        sub = Subscription(
            game_id,
            seat.seat if seat is not None else None,
            -1 if version is None else version,
            None if version is None else ACTIVE,
        )
        # Subscribe first, then read: an event racing with the read is dropped or filled by
        # version in the pump, never lost.
        hub.subscribe(self.conn, sub)
        self.conn.enqueue(("sync", game_id, version is None, True))
        if ack is not None:
            await self.conn.send("ack", {"ack": ack, "gameId": game_id, "v": loaded.game.version})
        if loaded.game.status == ACTIVE and games_service.ai_to_move(
            loaded.game.state, loaded.seats
        ):
            # Also recovers AI turns left unplayed by a crashed or restarted instance.
            games_service.schedule_ai_turns(self.ctx, game_id)

    async def move(self, data: dict[str, Any]) -> None:
        game_id = _game_id(data)
        version = _version(data, required=True)
        assert version is not None
        ack = _ack(data)
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
        new_version, after, loaded = await games_service.play_human_move(
            self.ctx, self.conn.user, game_id, move, version
        )
        await self.conn.send("ack", {"ack": ack, "gameId": game_id, "v": new_version})
        if after.game_status != COMPLETED and any(
            s.seat == after.current_player and s.is_ai for s in loaded.seats
        ):
            if settings.ws_ai_in_background:
                games_service.schedule_ai_turns(self.ctx, game_id)
            else:
                await games_service.play_ai_turns(
                    self.ctx, game_id, known=(new_version, after, loaded.seats, loaded.game.seed)
                )

    async def leave(self, data: dict[str, Any]) -> None:
        if "gameId" not in data:
            for game_id in list(self.conn.subs):
                self.conn.hub.unsubscribe(self.conn, game_id)
        else:
            game_id = _game_id(data)
            if game_id not in self.conn.subs:
                raise FrameError(
                    ErrorCode.VALIDATION_FAILED,
                    f"not joined to game {game_id}",
                    [{"field": "gameId", "reason": "not joined"}],
                )
            self.conn.hub.unsubscribe(self.conn, game_id)
        ack = _ack(data)
        if ack is not None:
            await self.conn.send("ack", {"ack": ack})


KNOWN_TYPES = {"join", "move", "leave", "auth"}


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
            code = error.code if error.code == ErrorCode.AUTH_REQUIRED else ErrorCode.AUTH_REQUIRED
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
        unavailable = ErrorCode.SERVER_DATABASE_UNAVAILABLE
        await _send_raw_error(websocket, unavailable, default_message(unavailable))
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
