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
    CLAIM = "claim"  # claim the win over an absent opponent (server/presence.py)
    ABORT = "abort"  # abort a game before every seat has moved
    CHAT = "chat"
    LOBBY = "lobby"


class ServerFrame(StrEnum):
    STATE = "state"
    EVENT = "event"
    ACK = "ack"
    ERROR = "error"
    RESYNC = "resync"
    PRESENCE = "presence"
    REMATCH = "rematch"
    CHAT = "chat"
    CHAT_HISTORY = "chatHistory"
    LOBBY = "lobby"
    LOBBY_DELTA = "lobbyDelta"


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
    clocks: dict[str, Any] | None = None
    # Per human seat of a Fischer game: {seat, online, since, claimableAt} (presence.py).
    presence: list[dict[str, Any]] | None = None

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gameId": self.game_id,
            "v": self.v,
            "status": self.status,
            "state": self.state,
            "yourSeat": self.your_seat,
            "serverTime": self.server_time,
        }
        if self.clocks is not None:
            out["clocks"] = self.clocks
        if self.presence is not None:
            out["presence"] = self.presence
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
    clocks: dict[str, Any] | None = None

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
        if self.clocks is not None:
            out["clocks"] = self.clocks
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


@dataclass(frozen=True)
class PresenceFrame:
    """A seat's sockets came or went: ``online``, since ``since`` (epoch ms); while offline,
    ``claimableAt`` is when it counts as abandoned (None when that does not apply)."""

    type: ClassVar[ServerFrame] = ServerFrame.PRESENCE
    game_id: str
    seat: int
    online: bool
    since: int
    claimable_at: int | None
    server_time: int

    def data(self) -> dict[str, Any]:
        return {
            "gameId": self.game_id,
            "seat": self.seat,
            "online": self.online,
            "since": self.since,
            "claimableAt": self.claimable_at,
            "serverTime": self.server_time,
        }


@dataclass(frozen=True)
class RematchFrame:
    """The rematch offer of an ended game this socket watches changed."""

    type: ClassVar[ServerFrame] = ServerFrame.REMATCH
    game_id: str
    status: str
    offered_by: str | None
    accepted: tuple[str, ...]
    declined_by: str | None
    new_game_id: str | None

    def data(self) -> dict[str, Any]:
        return {
            "gameId": self.game_id,
            "status": self.status,
            "offeredBy": self.offered_by,
            "accepted": list(self.accepted),
            "declinedBy": self.declined_by,
            "newGameId": self.new_game_id,
        }


@dataclass(frozen=True)
class ChatFrame:
    """One chat message, new or (``removed`` set, no ``body``) removed by a moderator."""

    type: ClassVar[ServerFrame] = ServerFrame.CHAT
    game_id: str
    channel: str
    message: dict[str, Any]

    def data(self) -> dict[str, Any]:
        return {"gameId": self.game_id, "channel": self.channel, "message": self.message}


@dataclass(frozen=True)
class ChatHistoryFrame:
    """The messages of one channel after the seq the client had (or the latest ones), the
    seqs of earlier messages removed since, the channel's latest seq, and every channel the
    viewer may read now (a client drops any other)."""

    type: ClassVar[ServerFrame] = ServerFrame.CHAT_HISTORY
    game_id: str
    channel: str
    messages: list[dict[str, Any]]
    removed: list[int]
    latest: int
    readable: list[str]

    def data(self) -> dict[str, Any]:
        return {
            "gameId": self.game_id,
            "channel": self.channel,
            "messages": self.messages,
            "removed": self.removed,
            "latest": self.latest,
            "readable": self.readable,
        }


@dataclass(frozen=True)
class LobbyFrame:
    """The whole lobby (``server/lobby.py``): open and live games, each list capped."""

    type: ClassVar[ServerFrame] = ServerFrame.LOBBY
    seq: int
    open: list[dict[str, Any]]
    open_total: int
    live: list[dict[str, Any]]
    live_total: int
    server_time: int

    def data(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "open": self.open,
            "openTotal": self.open_total,
            "live": self.live,
            "liveTotal": self.live_total,
            "serverTime": self.server_time,
        }


@dataclass(frozen=True)
class LobbyDeltaFrame:
    """Changed lobby entries since the frame ``seq - 1`` on this socket."""

    type: ClassVar[ServerFrame] = ServerFrame.LOBBY_DELTA
    seq: int
    changes: list[dict[str, Any]]
    server_time: int

    def data(self) -> dict[str, Any]:
        return {"seq": self.seq, "changes": self.changes, "serverTime": self.server_time}


Frame = (
    StateFrame
    | EventFrame
    | AckFrame
    | ErrorFrame
    | ResyncFrame
    | PresenceFrame
    | RematchFrame
    | ChatFrame
    | ChatHistoryFrame
    | LobbyFrame
    | LobbyDeltaFrame
)


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
class ChatSyncItem:
    """Send one subscription the chat it is missing: per readable channel, the messages after
    ``after[channel]`` (the latest ones when absent); ``after=None`` uses what the socket was
    already sent."""

    game_id: str
    after: dict[str, int] | None = None
    channels: tuple[str, ...] | None = None  # None: every channel the viewer may read


@dataclass(frozen=True)
class OverflowItem:
    """The queue overflowed and was emptied: tell the client, then resync every game."""


QueueItem = EventItem | SyncItem | ChatSyncItem | OverflowItem
