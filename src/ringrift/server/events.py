"""What the event bus carries between the move path and the sockets (typed; ``to_json`` is the
pub/sub payload, ``event_from_json`` reads one back). The bus is fan-out only: a receiver that
misses an event recovers from the database by version."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    MOVE = "move"
    STATUS = "status"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class MoveEvent:
    """One committed move that made version ``v`` of a game."""

    game_id: str
    v: int
    move: dict[str, Any]
    by: int  # the seat that moved
    auto: bool  # a bookkeeping move the server played for a human seat
    hash: str  # position hash after the move
    status: str  # game status after the move
    winner: int | None
    end_reason: str | None
    patch: dict[str, Any]  # RFC 7386 merge patch from the position at v - 1 to the one at v
    to_move: int | None  # the seat to move after it (None when the game is over)
    legal_moves: list[dict[str, Any]] | None  # of ``to_move``, when a person holds that seat
    server_time: int
    # ``to_move`` is a person who must decide: the legal moves are in ``legal_moves``, or (on
    # another instance, where they are left out of the payload) in the database.
    prompt: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": EventKind.MOVE.value,
            "gameId": self.game_id,
            "v": self.v,
            "move": self.move,
            "by": self.by,
            "auto": self.auto,
            "hash": self.hash,
            "status": self.status,
            "winner": self.winner,
            "endReason": self.end_reason,
            "patch": self.patch,
            "toMove": self.to_move,
            "legalMoves": self.legal_moves,
            "serverTime": self.server_time,
            "prompt": self.prompt,
        }


@dataclass(frozen=True)
class StatusEvent:
    """A status change without a new version (start, resignation, cancellation)."""

    game_id: str
    v: int
    status: str
    winner: int | None
    end_reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": EventKind.STATUS.value,
            "gameId": self.game_id,
            "v": self.v,
            "status": self.status,
            "winner": self.winner,
            "endReason": self.end_reason,
        }


GameEvent = MoveEvent | StatusEvent


def event_from_json(data: dict[str, Any]) -> GameEvent | None:
    """Read a bus payload; None for anything malformed (a bad payload must not stop the bus)."""
    try:
        kind = data["kind"]
        game_id, v = data["gameId"], data["v"]
        if not isinstance(game_id, str) or not isinstance(v, int):
            return None
        if kind == EventKind.MOVE:
            return MoveEvent(
                game_id=game_id,
                v=v,
                move=data["move"],
                by=int(data["by"]),
                auto=bool(data.get("auto", False)),
                hash=str(data.get("hash", "")),
                status=str(data["status"]),
                winner=data.get("winner"),
                end_reason=data.get("endReason"),
                patch=data.get("patch") or {},
                to_move=data.get("toMove"),
                legal_moves=data.get("legalMoves"),
                server_time=int(data.get("serverTime", 0)),
                prompt=bool(data.get("prompt", False)),
            )
        if kind == EventKind.STATUS:
            return StatusEvent(
                game_id, v, str(data["status"]), data.get("winner"), data.get("endReason")
            )
    except (KeyError, TypeError, ValueError):
        return None
    return None
