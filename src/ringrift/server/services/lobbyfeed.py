"""The one place services tell the lobby that a game changed: ``publish_lobby(ctx, id, change)``.

It puts a small ``{"kind": "lobby", "gameId", "change"}`` message on the event bus (this
instance's lobby sockets at once, the other instances through Redis). The message says only
*which* game changed and roughly how; every instance reads the game's current entry from the
database before telling its sockets, so a lost or reordered message never leaves a stale list
for long (and a resubscription re-sends whole snapshots, see ``server/lobby.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ringrift.server.context import AppContext

LOBBY_KIND = "lobby"


class LobbyChange(StrEnum):
    CREATED = "created"
    JOINED = "joined"
    LEFT = "left"
    STARTED = "started"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    MOVED = "moved"  # derived from move events; carries the new move count, no database read
    CHANGED = "changed"  # anything else (a status event whose cause is not known)


@dataclass(frozen=True)
class LobbyEvent:
    game_id: str
    change: LobbyChange

    def to_json(self) -> dict[str, Any]:
        return {"kind": LOBBY_KIND, "gameId": self.game_id, "change": self.change.value}


def lobby_event_from_json(data: dict[str, Any]) -> LobbyEvent | None:
    game_id, change = data.get("gameId"), data.get("change")
    if data.get("kind") != LOBBY_KIND or not isinstance(game_id, str) or not game_id:
        return None
    if not isinstance(change, str):
        return None
    try:
        return LobbyEvent(game_id, LobbyChange(change))
    except ValueError:
        return None


def publish_lobby(ctx: AppContext, game_id: str, change: LobbyChange) -> None:
    """Tell every instance's lobby subscribers that ``game_id`` changed (best effort)."""
    ctx.bus.publish(LobbyEvent(game_id, change).to_json())
