"""The WebSocket API: ``GET /ws`` with JSON frames ``{"t": type, "d": data}``; the frame
contract is in docs/server.md, the frame types in ``frames.py`` and the delivery of events to
sockets in ``hub.py``. Here: authentication, and the client frames (``join``, ``move``,
``leave``, ``resync``, and ``auth`` with a fresh token for an open socket, see ``wsguard.py``),
handled one at a time and in order per socket. Anything wrong with a
frame gets an ``error`` frame with a catalogue code and changes nothing; the connection stays
open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect

from ringrift.server.context import AppContext
from ringrift.server.db.models import User
from ringrift.server.db.session import DatabaseUnavailable, is_database_unavailable
from ringrift.server.errors import ApiError, ErrorCode, default_message
from ringrift.server.frames import AckFrame, ClientFrame, SyncItem
from ringrift.server.hub import CLOSE_GOING_AWAY, Connection, Hub, Subscription
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

CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013


# --- the endpoint ---------------------------------------------------------------------------


class Session:
    """One authenticated socket: reads frames and answers them in order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ctx = conn.ctx

    async def handle(self, text: str | None) -> None:
        """Serve one client frame; ``None`` is a binary frame. Every frame counts against the
        message limit, whether it is valid JSON or not."""
        ack: Any = None
        frame_type = "invalid"
        try:
            decision = await self.ctx.limiter.hit(
                "ws", self.conn.user.id, self.ctx.settings.rate_limit_ws_messages
            )
            if not decision.allowed:
                ack = _peek_ack(text, self.ctx.settings.ws_max_frame_bytes)
                raise FrameError(
                    ErrorCode.RATE_LIMIT_EXCEEDED,
                    f"Too many messages; retry in {decision.retry_after}s",
                    {"retryAfter": decision.retry_after, "limit": decision.limit},
                )
            if text is None:
                raise FrameError(
                    ErrorCode.VALIDATION_FAILED, "binary frames are not supported; send JSON text"
                )
            frame_type, data = parse_frame(text, self.ctx.settings.ws_max_frame_bytes)
            self.ctx.metrics.ws_frames.labels(direction="in", type=_frame_label(frame_type)).inc()
            ack = data.get("ack") if isinstance(data.get("ack"), int | str) else None
            if frame_type in (ClientFrame.JOIN, ClientFrame.MOVE, ClientFrame.RESYNC):
                await self.ctx.sockets.ensure_valid(self.conn)
            if frame_type == ClientFrame.JOIN:
                await self.join(data)
            elif frame_type == ClientFrame.MOVE:
                await self.move(data)
            elif frame_type == ClientFrame.LEAVE:
                await self.leave(data)
            elif frame_type == ClientFrame.RESYNC:
                await self.resync(data)
            elif frame_type == ClientFrame.AUTH:  # a fresh access token for this socket
                await self.ctx.sockets.reauth(self.conn, data)
                if ack is not None:
                    await self.conn.send(AckFrame(ack))
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


def _peek_ack(text: str | None, max_bytes: int) -> Any:
    """The ``ack`` of a frame refused before it is served (so the client can match it)."""
    if text is None:
        return None
    with contextlib.suppress(FrameError):
        _type, data = parse_frame(text, max_bytes)
        ack = data.get("ack")
        return ack if isinstance(ack, int | str) and not isinstance(ack, bool) else None
    return None


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
        user = await auth_service.authenticate(ctx, token)
        websocket.state.ws_token = token  # for the socket guard (wsguard.py)
        return user
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
    if not await ctx.sockets.attach(conn, websocket.state.ws_token):
        return
    hub.add(conn)
    session = Session(conn)
    pump = asyncio.create_task(conn.pump(), name=f"ws-pump-{conn.id}")
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            await session.handle(message.get("text"))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        ctx.sockets.detach(conn)
        hub.remove(conn)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
