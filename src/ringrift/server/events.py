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
    PRESENCE = "presence"
    REMATCH = "rematch"
    CHAT = "chat"


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
    # Timed games: ``{remainingMs: [per seat], running, serverTime}`` right after the move.
    clocks: dict[str, Any] | None = None

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
            "clocks": self.clocks,
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


@dataclass(frozen=True)
class PresenceEvent:
    """A seat of a game came online (its first socket joined) or went offline (its last socket
    closed, or its entries expired). ``since`` is when (epoch ms); ``claimable_at`` is when the
    seat counts as abandoned if it stays away (None when abandonment does not apply)."""

    game_id: str
    seat: int
    online: bool
    since: int
    claimable_at: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": EventKind.PRESENCE.value,
            "gameId": self.game_id,
            "seat": self.seat,
            "online": self.online,
            "since": self.since,
            "claimableAt": self.claimable_at,
        }


@dataclass(frozen=True)
class RematchEvent:
    """The rematch offer of an ended game changed (offered, accepted, declined, created)."""

    game_id: str
    v: int
    status: str  # open | declined | created
    offered_by: str | None
    accepted: tuple[str, ...]
    declined_by: str | None
    new_game_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": EventKind.REMATCH.value,
            "gameId": self.game_id,
            "v": self.v,
            "status": self.status,
            "offeredBy": self.offered_by,
            "accepted": list(self.accepted),
            "declinedBy": self.declined_by,
            "newGameId": self.new_game_id,
        }


@dataclass(frozen=True)
class ChatEvent:
    """A chat message posted (or, with ``removal``, an earlier one removed) in one channel of
    a game. ``seq`` is the message's number in its channel; ``message`` its wire form
    (``services/chat.py``), without text once removed."""

    game_id: str
    channel: str
    seq: int
    message: dict[str, Any]
    removal: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": EventKind.CHAT.value,
            "gameId": self.game_id,
            # ``v`` keeps the common envelope of bus events; for chat it is the channel seq.
            "v": self.seq,
            "channel": self.channel,
            "message": self.message,
            "removal": self.removal,
        }


GameEvent = MoveEvent | StatusEvent | PresenceEvent | RematchEvent | ChatEvent


def _presence_from_json(data: dict[str, Any]) -> PresenceEvent | None:
    game_id, seat, online = data["gameId"], data["seat"], data["online"]
    since, claimable = data["since"], data.get("claimableAt")
    if not isinstance(game_id, str) or not isinstance(online, bool):
        return None

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not (whole(seat) and whole(since)) or not (claimable is None or whole(claimable)):
        return None
    return PresenceEvent(game_id, seat, online, since, claimable)


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def event_from_json(data: dict[str, Any]) -> GameEvent | None:
    """Read a bus payload; None for anything malformed (a bad payload must not stop the bus)."""
    try:
        kind = data["kind"]
        if kind == EventKind.PRESENCE:
            return _presence_from_json(data)
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
                clocks=data["clocks"] if isinstance(data.get("clocks"), dict) else None,
            )
        if kind == EventKind.STATUS:
            return StatusEvent(
                game_id, v, str(data["status"]), data.get("winner"), data.get("endReason")
            )
        if kind == EventKind.REMATCH:
            accepted = data.get("accepted") or []
            if not isinstance(accepted, list):
                return None
            return RematchEvent(
                game_id=game_id,
                v=v,
                status=str(data["status"]),
                offered_by=_opt_str(data.get("offeredBy")),
                accepted=tuple(str(a) for a in accepted),
                declined_by=_opt_str(data.get("declinedBy")),
                new_game_id=_opt_str(data.get("newGameId")),
            )
        if kind == EventKind.CHAT:
            message, channel = data["message"], data["channel"]
            if not isinstance(message, dict) or not isinstance(channel, str):
                return None
            return ChatEvent(game_id, channel, v, message, bool(data.get("removal", False)))
    except (KeyError, TypeError, ValueError):
        return None
    return None
