"""WebSocket frames (``{"t": type, "d": data}``) and the items of a socket's outbound queue, as
typed dataclasses. ``encode`` turns a server frame into the text sent on the socket; ``None``
fields of optional members are left out.

The contract (docs/server.md has the table): ``state`` carries a full position (on join without
``v``, on ``resync``, after a gap); ``event`` carries one committed move as a merge patch;
``legalMoves`` go only to the seated player to move.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from ringrift.server import codec
from ringrift.server.events import GameEvent


class ClientFrame(StrEnum):
    AUTH = "auth"
    JOIN = "join"
    MOVE = "move"
    LEAVE = "leave"
    RESYNC = "resync"


class ServerFrame(StrEnum):
    STATE = "state"
    EVENT = "event"
    ACK = "ack"
    ERROR = "error"
    RESYNC = "resync"


@dataclass(frozen=True)
class StateFrame:
    type: ClassVar[ServerFrame] = ServerFrame.STATE
    game_id: str
    v: int
    status: str
    state: dict[str, Any]
    your_seat: int | None
    legal_moves: list[dict[str, Any]] | None
    winner: int | None
    end_reason: str | None
    server_time: int

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gameId": self.game_id,
            "v": self.v,
            "status": self.status,
            "state": self.state,
            "yourSeat": self.your_seat,
            "serverTime": self.server_time,
        }
        if self.legal_moves is not None:
            out["legalMoves"] = self.legal_moves
        if self.status != "active" and self.status != "waiting":
            out["winner"] = self.winner
            out["endReason"] = self.end_reason
        return out


@dataclass(frozen=True)
class EventFrame:
    type: ClassVar[ServerFrame] = ServerFrame.EVENT
    game_id: str
    v: int
    move: dict[str, Any]
    by: int
    auto: bool
    hash: str
    status: str
    winner: int | None
    end_reason: str | None
    patch: dict[str, Any]
    legal_moves: list[dict[str, Any]] | None
    server_time: int

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gameId": self.game_id,
            "v": self.v,
            "move": self.move,
            "by": self.by,
            "auto": self.auto,
            "hash": self.hash,
            "status": self.status,
            "patch": self.patch,
            "serverTime": self.server_time,
        }
        if self.status != "active":
            out["winner"] = self.winner
            out["endReason"] = self.end_reason
        if self.legal_moves is not None:
            out["legalMoves"] = self.legal_moves
        return out


@dataclass(frozen=True)
class AckFrame:
    type: ClassVar[ServerFrame] = ServerFrame.ACK
    ack: int | str | None
    game_id: str | None = None
    v: int | None = None

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ack": self.ack}
        if self.game_id is not None:
            out["gameId"] = self.game_id
        if self.v is not None:
            out["v"] = self.v
        return out


@dataclass(frozen=True)
class ErrorFrame:
    type: ClassVar[ServerFrame] = ServerFrame.ERROR
    code: str
    message: str
    details: Any = None
    ack: int | str | None = None

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        if self.ack is not None:
            out["ack"] = self.ack
        return out


@dataclass(frozen=True)
class ResyncFrame:
    """The server could not keep this socket in step: re-join with your ``v``."""

    type: ClassVar[ServerFrame] = ServerFrame.RESYNC
    reason: str
    game_id: str | None = None

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason}
        if self.game_id is not None:
            out["gameId"] = self.game_id
        return out


Frame = StateFrame | EventFrame | AckFrame | ErrorFrame | ResyncFrame


def encode(frame: Frame) -> str:
    return codec.dumps({"t": frame.type.value, "d": frame.data()})


# --- a socket's outbound queue ---------------------------------------------------------------


@dataclass(frozen=True)
class EventItem:
    """A bus event for a game this socket watches."""

    event: GameEvent


@dataclass(frozen=True)
class SyncItem:
    """Bring one subscription up to the database: ``full`` always sends a ``state``; ``prompt``
    (a join) makes sure the seated player to move ends up with its legal moves."""

    game_id: str
    full: bool
    prompt: bool = False


@dataclass(frozen=True)
class OverflowItem:
    """The queue overflowed and was emptied: tell the client, then resync every game."""


QueueItem = EventItem | SyncItem | OverflowItem
