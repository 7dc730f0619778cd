"""Client frames on the WebSocket: the envelope ``{"t": type, "d": data}`` and the fields of
``join``/``move``/``leave``/``resync``/``chat``. Anything wrong raises ``FrameError`` (an ``error``
frame with a catalogue code; the frame changes nothing)."""

from __future__ import annotations

from typing import Any

from ringrift.server import codec
from ringrift.server.errors import ErrorCode

MAX_ACK_LENGTH = 64
MAX_GAME_ID_LENGTH = 64
MAX_INVITE_LENGTH = 128


class FrameError(Exception):
    """A client frame that cannot be served; becomes an ``error`` frame."""

    def __init__(self, code: ErrorCode, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def game_id_of(data: dict[str, Any]) -> str:
    game_id = data.get("gameId")
    if not isinstance(game_id, str) or not 1 <= len(game_id) <= MAX_GAME_ID_LENGTH:
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "gameId must be a string of 1-64 characters",
            [{"field": "gameId", "reason": "required string, 1-64 characters"}],
        )
    return game_id


def invite_of(data: dict[str, Any]) -> str | None:
    """The optional invite token of a ``join`` (needed to watch a private game unseated)."""
    invite = data.get("invite")
    if invite is None:
        return None
    if not isinstance(invite, str) or not 1 <= len(invite) <= MAX_INVITE_LENGTH:
        raise FrameError(
            ErrorCode.VALIDATION_FAILED,
            "invite must be a string of 1-128 characters (the token of an invite link)",
            [{"field": "invite", "reason": "string, 1-128 characters"}],
        )
    return invite


def version_of(data: dict[str, Any], *, required: bool) -> int | None:
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


CHAT_CHANNELS = ("players", "spectators")


def chat_after_of(data: dict[str, Any]) -> dict[str, int] | None:
    """``join``'s optional ``chat``: the last chat seq the client has per channel."""
    value = data.get("chat")
    if value is None:
        return None
    problem = [{"field": "chat", "reason": "object of channel -> last seq (non-negative integer)"}]
    if not isinstance(value, dict):
        raise FrameError(ErrorCode.VALIDATION_FAILED, "chat must be an object", problem)
    after: dict[str, int] = {}
    for channel, seq in value.items():
        if channel not in CHAT_CHANNELS:
            raise FrameError(
                ErrorCode.VALIDATION_FAILED, "chat channels are players and spectators", problem
            )
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= 2**31:
            raise FrameError(
                ErrorCode.VALIDATION_FAILED, "a chat seq must be a non-negative integer", problem
            )
        after[channel] = seq
    return after


def ack_of(data: dict[str, Any]) -> Any:
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
        frame = codec.loads(text)
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
