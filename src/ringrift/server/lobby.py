"""The live lobby on the WebSocket: sockets that sent ``lobby`` get a snapshot of the open and
live games, then ``lobbyDelta`` frames with the entries that changed.

Every instance keeps its own lobby watchers. It learns of changes from the event bus (the
``lobby`` messages of ``services/lobbyfeed.py`` from any instance, plus the game events:
a status change or a finished game marks the game as changed, a move updates its move
count). Changes are coalesced: the feed waits ``LOBBY_FLUSH_SECONDS`` after the first one, reads
the current entries of every changed game from the database in one query (the database is the
truth, the bus only says where to look) and hands the result to every watcher. Each watcher
sends at most one frame per ``LOBBY_MIN_FRAME_INTERVAL_SECONDS``; what arrives meanwhile is
merged per game, so a busy server sends fewer, larger frames rather than more, and a slow
socket delays nobody else. Frames carry a per-socket ``seq``; a resubscription to the bus
(Redis came back: messages may have been missed), a socket that fell too far behind, or a new
``lobby`` frame from the client gets a fresh snapshot instead of deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect

from ringrift.server.context import AppContext
from ringrift.server.db.session import DatabaseUnavailable
from ringrift.server.domain import GameStatus
from ringrift.server.events import EventKind, now_ms
from ringrift.server.frames import LobbyDeltaFrame, LobbyFrame
from ringrift.server.hub import Connection
from ringrift.server.services import lobby as lobby_service
from ringrift.server.services.lobbyfeed import LOBBY_KIND, LobbyChange, lobby_event_from_json

log = logging.getLogger(__name__)

DB_RETRY_SECONDS = 1.0
_STATUS_CHANGES = {
    GameStatus.WAITING.value: LobbyChange.LEFT,
    GameStatus.ACTIVE.value: LobbyChange.STARTED,
    GameStatus.COMPLETED.value: LobbyChange.COMPLETED,
    GameStatus.CANCELLED.value: LobbyChange.CANCELLED,
}


@dataclass
class Watcher:
    conn: Connection
    seq: int = -1
    snapshot_due: bool = True
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def add(self, change: dict[str, Any], limit: int) -> None:
        game_id = change["gameId"]
        earlier = self.pending.get(game_id)
        if change["change"] == LobbyChange.MOVED and earlier is not None:
            if earlier.get("game") is not None:
                # Keep the fuller change; just bring its move count up to date.
                game = {**earlier["game"], "moveCount": change["moveCount"]}
                self.pending[game_id] = {**earlier, "game": game}
                return
            if earlier["change"] != LobbyChange.MOVED:
                return  # the game left the lists: a move count means nothing any more
        self.pending[game_id] = change
        if len(self.pending) > limit:
            # Too far behind: one snapshot is smaller than all these changes.
            self.pending.clear()
            self.snapshot_due = True


class LobbyFeed:
    """This instance's lobby watchers and the coalescing of lobby changes."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.watchers: dict[int, Watcher] = {}
        self._dirty: dict[str, LobbyChange] = {}
        self._moved: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    # -- sockets --------------------------------------------------------------------------

    def watch(self, conn: Connection) -> None:
        """Start (or restart) the lobby for a socket: a fresh snapshot comes first."""
        watcher = self.watchers.get(conn.id)
        if watcher is None:
            watcher = self.watchers[conn.id] = Watcher(conn)
        watcher.snapshot_due = True
        watcher.pending.clear()
        self._kick(watcher)

    def unwatch(self, conn: Connection) -> bool:
        watcher = self.watchers.pop(conn.id, None)
        if watcher is None:
            return False
        if watcher.task is not None and watcher.task is not asyncio.current_task():
            watcher.task.cancel()
        return True

    def remove(self, conn: Connection) -> None:
        self.unwatch(conn)

    def resync_all(self) -> None:
        """Bus resubscribe hook: lobby messages may have been missed, so snapshot everyone."""
        for watcher in list(self.watchers.values()):
            watcher.snapshot_due = True
            watcher.pending.clear()
            self._kick(watcher)

    # -- the bus --------------------------------------------------------------------------

    def dispatch(self, payload: dict[str, Any]) -> None:
        """Bus handler (every event of every instance): note which games changed."""
        if not self.watchers:
            return
        kind = payload.get("kind")
        game_id = payload.get("gameId")
        if not isinstance(game_id, str):
            return
        if kind == LOBBY_KIND:
            event = lobby_event_from_json(payload)
            if event is None:
                return
            self._dirty[game_id] = event.change
        elif kind == EventKind.MOVE:
            version = payload.get("v")
            if payload.get("status") == GameStatus.ACTIVE.value and isinstance(version, int):
                self._moved[game_id] = max(version, self._moved.get(game_id, 0))
            else:
                self._dirty[game_id] = LobbyChange.COMPLETED
        elif kind == EventKind.STATUS:
            status = payload.get("status")
            change = (
                _STATUS_CHANGES.get(status, LobbyChange.CHANGED)
                if isinstance(status, str)
                else None
            )
            self._dirty.setdefault(game_id, change or LobbyChange.CHANGED)
        else:
            return
        self._wake.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name="lobby-flush")

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.ctx.settings.lobby_flush_seconds)
            try:
                await self.flush()
            except (DatabaseUnavailable, SQLAlchemyError) as error:
                log.warning(
                    "lobby flush failed; watchers get a snapshot",
                    extra={"detail": str(error)[:200]},
                )
                self.resync_all()
            except Exception:
                log.exception("lobby flush failed")
                self.resync_all()

    async def flush(self) -> None:
        """Read the changed games once and hand their entries to every watcher."""
        dirty, self._dirty = self._dirty, {}
        moved, self._moved = self._moved, {}
        if not self.watchers or not (dirty or moved):
            return
        entries = await lobby_service.entries_by_id(self.ctx, list(dirty))
        watched = await lobby_service.public_active(self.ctx, [g for g in moved if g not in dirty])
        changes: list[dict[str, Any]] = []
        for game_id, change in dirty.items():
            entry = entries.get(game_id)
            if entry is not None and entry.game.is_private:
                continue  # never in the lists; its id is nobody else's business
            section = entry.section if entry is not None else None
            changes.append(
                {
                    "gameId": game_id,
                    "change": change.value,
                    "section": section.value if section is not None else None,
                    "game": lobby_service.entry_json(entry)
                    if entry is not None and section is not None
                    else None,
                }
            )
        for game_id in watched:
            changes.append(
                {"gameId": game_id, "change": LobbyChange.MOVED.value, "moveCount": moved[game_id]}
            )
        if not changes:
            return
        limit = self.ctx.settings.lobby_snapshot_limit * 2
        for watcher in list(self.watchers.values()):
            for item in changes:
                watcher.add(item, limit)
            self._kick(watcher)

    # -- delivery -------------------------------------------------------------------------

    def _kick(self, watcher: Watcher) -> None:
        if watcher.task is None or watcher.task.done():
            watcher.task = asyncio.create_task(self._drain(watcher), name="lobby-drain")

    async def _drain(self, watcher: Watcher) -> None:
        """Send what this watcher is owed, one frame at a time with a pause between frames."""
        settings = self.ctx.settings
        try:
            while self.watchers.get(watcher.conn.id) is watcher:
                if watcher.snapshot_due:
                    watcher.snapshot_due = False
                    watcher.pending.clear()
                    try:
                        snap = await lobby_service.snapshot(self.ctx, settings.lobby_snapshot_limit)
                    except (DatabaseUnavailable, SQLAlchemyError):
                        watcher.snapshot_due = True
                        await asyncio.sleep(DB_RETRY_SECONDS)
                        continue
                    watcher.seq += 1
                    await watcher.conn.send(
                        LobbyFrame(
                            seq=watcher.seq,
                            open=[lobby_service.entry_json(e) for e in snap.open],
                            open_total=snap.open_total,
                            live=[lobby_service.entry_json(e) for e in snap.live],
                            live_total=snap.live_total,
                            server_time=now_ms(),
                        )
                    )
                elif watcher.pending:
                    changes = list(watcher.pending.values())
                    watcher.pending.clear()
                    watcher.seq += 1
                    await watcher.conn.send(LobbyDeltaFrame(watcher.seq, changes, now_ms()))
                else:
                    return
                await asyncio.sleep(settings.lobby_min_frame_interval_seconds)
        except (WebSocketDisconnect, OSError, RuntimeError):
            self.unwatch(watcher.conn)  # the socket is gone; realtime.py cleans up the rest

    async def close(self) -> None:
        tasks = [w.task for w in self.watchers.values() if w.task is not None]
        if self._flusher is not None:
            tasks.append(self._flusher)
        self.watchers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
