"""The WebSocket API: ``GET /ws`` with JSON frames ``{"t": type, "d": data}``; the frame
contract is in docs/server.md, the frame types in ``frames.py`` and the delivery of events to
sockets in ``hub.py``. Here: authentication, and the client frames (``join``, ``move``,
``leave``, ``resync``, ``chat``, and ``auth`` with a fresh token for an open socket, see
``wsguard.py``), handled one at a time and in order per socket. Anything wrong with a
frame gets an ``error`` frame with a catalogue code and changes nothing; the connection stays
open.

Each inbound frame is one server span (``ws move``, ``ws join`` ...; never one span for the
socket's lifetime, which would hold hours of unrelated work in one trace), and each move frame
is timed from receipt to its ack or error frame (``ringrift_ws_move_duration_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect

from ringrift.server.context import AppContext
from ringrift.server.db.models import User
from ringrift.server.db.session import DatabaseUnavailable, is_database_unavailable
from ringrift.server.errors import ApiError, ErrorCode, TokenRevoked, default_message
from ringrift.server.frames import AckFrame, ChatSyncItem, ClientFrame, SyncItem
from ringrift.server.hub import CLOSE_GOING_AWAY, Connection, Hub, Subscription, close_quietly
from ringrift.server.metrics import MoveOutcome
from ringrift.server.presence import tracked as presence_tracked
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import abandonment, aborts, ai_turns, chat, moves, store
from ringrift.server.services import auth as auth_service
from ringrift.server.tracing import Span, SpanKind, mark_error
from ringrift.server.wsinput import (
    FrameError,
    ack_of,
    chat_after_of,
    game_id_of,
    invite_of,
    parse_frame,
    version_of,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["realtime"])

__all__ = ["FrameError", "Hub", "parse_frame", "router"]

CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013


# --- the endpoint ---------------------------------------------------------------------------


# Error codes that are the server's trouble rather than the client's mistake: they mark a
# frame's span as failed (the same split as the WebSocket error-rate alert).
_SERVER_SIDE = ("SERVER_", ErrorCode.AI_SERVICE_UNAVAILABLE.value)


@dataclass
class FrameReport:
    """What serving one frame came to, for its span and the move-latency histogram."""

    frame_type: str = "invalid"
    game_id: str | None = None
    error: ErrorCode | None = None
    acked_at: float | None = None  # perf_counter() when the ack went out

    def describe(self, span: Span) -> None:
        label = _frame_label(self.frame_type) if self.frame_type != "invalid" else "invalid"
        span.update_name(f"ws {label}")
        span.set_attribute("ringrift.ws.frame_type", label)
        if self.game_id is not None:
            span.set_attribute("ringrift.game_id", self.game_id)
        if self.error is None:
            span.set_attribute("ringrift.ws.outcome", "ok")
            return
        span.set_attribute("ringrift.ws.outcome", self.error.value)
        if self.error.value.startswith(_SERVER_SIDE):
            mark_error(span, self.error.value)


class Session:
    """One authenticated socket: reads frames and answers them in order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.ctx = conn.ctx
        self.report = FrameReport()  # of the frame being served (one at a time per socket)

    async def handle(self, text: str | None) -> None:
        """Serve one client frame in its own span; time it when it is a move."""
        received = time.perf_counter()
        report = self.report = FrameReport()
        with self.ctx.tracing.span("ws frame", SpanKind.SERVER) as span:
            await self._serve(text, report)
            if report.frame_type == ClientFrame.MOVE:
                acked = report.acked_at is not None
                ended = report.acked_at if report.acked_at is not None else time.perf_counter()
                outcome = MoveOutcome.OK if acked else MoveOutcome.ERROR
                self.ctx.metrics.ws_move_latency.labels(outcome=outcome.value).observe(
                    ended - received
                )
            if span.is_recording():
                report.describe(span)

    async def _serve(self, text: str | None, report: FrameReport) -> None:
        """Serve one client frame; ``None`` is a binary frame. Every frame counts against the
        message limit, whether it is valid JSON or not."""
        ack: Any = None
        frame_type = "invalid"
        try:
            decision = await self.ctx.limiter.hit(
                Bucket.WS, self.conn.user.id, self.ctx.settings.rate_limit_ws_messages
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
            report.frame_type = frame_type
            game_id = data.get("gameId")
            if isinstance(game_id, str):
                report.game_id = game_id[:64]
            self.ctx.metrics.ws_frames.labels(direction="in", type=_frame_label(frame_type)).inc()
            ack = data.get("ack") if isinstance(data.get("ack"), int | str) else None
            if frame_type in (
                ClientFrame.JOIN,
                ClientFrame.RESYNC,
                ClientFrame.CLAIM,
                ClientFrame.ABORT,
                ClientFrame.CHAT,
                ClientFrame.LOBBY,
            ):
                await self.ctx.sockets.ensure_valid(self.conn)
            if frame_type == ClientFrame.JOIN:
                await self.join(data)
            elif frame_type == ClientFrame.MOVE:
                # The token version is checked in the move's own read (no round trip of its own).
                claims = await self.ctx.sockets.verified_claims(self.conn)
                try:
                    await self.move(data, claims.token_version)
                except TokenRevoked:
                    await self.ctx.sockets.refuse_revoked(self.conn)
            elif frame_type == ClientFrame.LEAVE:
                await self.leave(data)
            elif frame_type == ClientFrame.RESYNC:
                await self.resync(data)
            elif frame_type in (ClientFrame.CLAIM, ClientFrame.ABORT):
                await self.end_early(ClientFrame(frame_type), data)
            elif frame_type == ClientFrame.CHAT:
                await self.chat(data)
            elif frame_type == ClientFrame.LOBBY:
                await self.lobby(data)
            elif frame_type == ClientFrame.AUTH:  # a fresh access token for this socket
                await self.ctx.sockets.reauth(self.conn, data)
                if ack is not None:
                    await self.conn.send(AckFrame(ack))
            else:
                raise FrameError(
                    ErrorCode.VALIDATION_FAILED,
                    f"unknown message type {frame_type[:32]!r}; expected join, move, leave, "
                    "resync, claim, abort, chat or lobby",
                    [
                        {
                            "field": "t",
                            "reason": "one of join, move, leave, resync, claim, abort, chat, lobby",
                        }
                    ],
                )
        except FrameError as error:
            report.error = error.code
            await self.conn.send_error(error.code, error.message, error.details, ack)
        except ApiError as error:
            report.error = error.code
            await self.conn.send_error(error.code, error.message, error.details, ack)
        except (DatabaseUnavailable, SQLAlchemyError) as error:
            if isinstance(error, SQLAlchemyError) and not is_database_unavailable(error):
                log.exception("websocket frame failed", extra={"type": frame_type})
                code = ErrorCode.SERVER_INTERNAL_ERROR
            else:
                self.ctx.metrics.db_unavailable.inc()
                code = ErrorCode.SERVER_DATABASE_UNAVAILABLE
            report.error = code
            await self.conn.send_error(code, default_message(code), None, ack)
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("websocket frame failed", extra={"type": frame_type})
            report.error = ErrorCode.SERVER_INTERNAL_ERROR
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
        chat_after = chat_after_of(data)
        loaded = await store.get_game(self.ctx, game_id, self.conn.user, invite_of(data))
        seat = loaded.seat_of(self.conn.user.id)
        hub = self.conn.hub
        if game_id in self.conn.subs:
            hub.unsubscribe(self.conn, game_id)
        sub = Subscription(
            game_id,
            seat.seat if seat is not None else None,
            -1 if version is None else version,
            None if version is None else loaded.game.status,
            tracked=presence_tracked(loaded.game.time_control),
            wants_chat=chat_after is not None,
        )
        # Subscribe first, then read: an event racing with the read is dropped or filled by
        # version in the pump, never lost.
        hub.subscribe(self.conn, sub)
        self.conn.enqueue(SyncItem(game_id, full=version is None, prompt=True))
        if chat_after is not None:
            self.conn.enqueue(ChatSyncItem(game_id, after=chat_after))
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

    async def move(self, data: dict[str, Any], token_version: int) -> None:
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
        await self.ctx.limiter.enforce(Bucket.MOVES, self.conn.user.id, settings.rate_limit_moves)
        committed = await moves.play_human_move(
            self.ctx, self.conn.user, game_id, move, version, token_version=token_version
        )
        await self.conn.send(AckFrame(ack, game_id, committed.version))
        self.report.acked_at = time.perf_counter()
        if ai_turns.ai_to_move(committed.loaded):
            if settings.ws_ai_in_background:
                ai_turns.schedule_ai_turns(self.ctx, game_id)
            else:
                known = ai_turns.Known(committed.version, committed.position, committed.loaded)
                await ai_turns.play_ai_turns(self.ctx, game_id, known)

    async def end_early(self, kind: ClientFrame, data: dict[str, Any]) -> None:
        """``claim {gameId}``: claim the win over an absent opponent; ``abort {gameId, v?}``:
        abort before every seat has moved. Same checks and error codes as the REST routes;
        the ack carries the game's version, the new status reaches every socket as a
        ``state``."""
        game_id = game_id_of(data)
        ack = ack_of(data)
        if kind == ClientFrame.CLAIM:
            loaded = await abandonment.claim_victory(self.ctx, self.conn.user, game_id)
        else:
            version = version_of(data, required=False)
            loaded = await aborts.abort_game(self.ctx, self.conn.user, game_id, version)
        await self.conn.send(AckFrame(ack, game_id, loaded.game.version))

    async def chat(self, data: dict[str, Any]) -> None:
        """Post a chat message: ``{gameId, channel, body, ack?}``. The message itself comes
        back as a ``chat`` frame, like to every other reader of the channel."""
        game_id = game_id_of(data)
        ack = ack_of(data)
        channel = chat.parse_channel(data.get("channel"))
        if game_id not in self.conn.subs:
            raise FrameError(
                ErrorCode.VALIDATION_FAILED,
                f"not joined to game {game_id}; send join first",
                [{"field": "gameId", "reason": "not joined"}],
            )
        posted = await chat.post(self.ctx, self.conn.user, game_id, channel, data.get("body"))
        if ack is not None:
            await self.conn.send(AckFrame(ack, game_id, posted.seq))

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

    async def lobby(self, data: dict[str, Any]) -> None:
        """``lobby {watch?, ack?}``: watch the lobby (a snapshot, then deltas; sending it again
        gets a fresh snapshot) or, with ``watch: false``, stop."""
        ack = ack_of(data)
        watch = data.get("watch", True)
        if not isinstance(watch, bool):
            raise FrameError(
                ErrorCode.VALIDATION_FAILED,
                "watch must be true or false",
                [{"field": "watch", "reason": "boolean"}],
            )
        feed = self.ctx.lobby
        if watch:
            feed.watch(self.conn)
        elif not feed.unwatch(self.conn):
            raise FrameError(
                ErrorCode.VALIDATION_FAILED,
                "not watching the lobby",
                [{"field": "watch", "reason": "not watching"}],
            )
        if ack is not None:
            await self.conn.send(AckFrame(ack))


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
            await close_quietly(websocket, CLOSE_POLICY, "authentication required")
            return None
        except FrameError as error:
            code: ErrorCode = ErrorCode.AUTH_REQUIRED
            await _send_raw_error(websocket, code, error.message)
            await close_quietly(websocket, CLOSE_POLICY, "authentication required")
            return None
        except (WebSocketDisconnect, RuntimeError, KeyError):
            return None
    try:
        user = await auth_service.authenticate(ctx, token)
        websocket.state.ws_token = token  # for the socket guard (wsguard.py)
        return user
    except ApiError as error:
        await _send_raw_error(websocket, error.code, error.message)
        await close_quietly(websocket, CLOSE_POLICY, "authentication failed")
    except (DatabaseUnavailable, SQLAlchemyError):
        code = ErrorCode.SERVER_DATABASE_UNAVAILABLE
        await _send_raw_error(websocket, code, default_message(code))
        await close_quietly(websocket, CLOSE_TRY_AGAIN, "database unavailable")
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
        await close_quietly(websocket, CLOSE_GOING_AWAY, "server shutting down")
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
        ctx.lobby.remove(conn)
        hub.remove(conn)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
