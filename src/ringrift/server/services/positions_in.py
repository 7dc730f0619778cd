"""Positions sent by clients (the analysis and sandbox routes): size limits by board, the
wire-format load, and the error that says plainly what is wrong. Nothing here is stored."""

from __future__ import annotations

from typing import Any

from ringrift.rules import BOARD_TYPES, GameState, Move, WireFormatError
from ringrift.rules.geometry import DEFAULT_SIZE
from ringrift.server.errors import ApiError, ErrorCode

# Largest request body per board (bytes): a position without its history is 3-25 KiB even at
# the end of a four-player game (measured); these leave room for the move and some slack.
BODY_LIMITS = {
    "square8": 32 * 1024,
    "hex8": 48 * 1024,
    "square19": 128 * 1024,
    "hexagonal": 256 * 1024,
}


def _invalid(field: str, reason: str, status: int | None = None) -> ApiError:
    return ApiError(
        ErrorCode.VALIDATION_FAILED,
        f"{field}: {reason}",
        status=status,
        details=[{"field": field, "reason": reason}],
    )


def load_state(doc: dict[str, Any], body_bytes: int, field: str = "state") -> GameState:
    """The client's position as a GameState, or a 400/413 VALIDATION_FAILED naming the problem.
    Standard board sizes only (or smaller); ``moveHistory`` is ignored, not parsed."""
    board = doc.get("board")
    board_type = board.get("type") if isinstance(board, dict) else None
    if not isinstance(board_type, str) or board_type not in BOARD_TYPES:
        raise _invalid(f"{field}.board.type", f"must be one of {', '.join(BOARD_TYPES)}")
    assert isinstance(board, dict)
    size = board.get("size", DEFAULT_SIZE[board_type])
    if not isinstance(size, int) or isinstance(size, bool) or size > DEFAULT_SIZE[board_type]:
        raise _invalid(
            f"{field}.board.size", f"{board_type} boards are at most {DEFAULT_SIZE[board_type]}"
        )
    limit = BODY_LIMITS[board_type]
    if body_bytes > limit:
        raise _invalid("body", f"too large for a {board_type} position: at most {limit} bytes", 413)
    doc = {k: v for k, v in doc.items() if k != "moveHistory"}
    try:
        return GameState.from_json(doc)
    except WireFormatError as error:
        raise _invalid(field, error.reason) from None
    except Exception as error:  # the loader should only raise WireFormatError; be safe
        raise _invalid(field, f"malformed position ({type(error).__name__})") from None


def load_move(doc: dict[str, Any], field: str = "move") -> Move:
    try:
        return Move.from_json(doc)
    except WireFormatError as error:
        raise _invalid(field, error.reason) from None
    except Exception as error:  # as above
        raise _invalid(field, f"malformed move ({type(error).__name__})") from None


def check_seat(state: GameState, seat: int) -> None:
    if seat > state.num_players:
        raise _invalid("seat", f"this is a {state.num_players}-player game")
