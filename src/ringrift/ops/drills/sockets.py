"""A WebSocket that follows one game on one app instance, for drills that check fan-out.

Fan-out between instances is only observable from a socket: a move submitted through app1
reaches a socket on app2 only if app1 published it and app2 is subscribed (or, after app2
resubscribed, its catch-up read the move from the database). The watcher records the highest
game version each frame announced, with the time it arrived, on a background thread, so the
synchronous drills can ask "has version N arrived within T seconds?".
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

# Frames that carry a game version: a move event, or a full state after a catch-up.
VERSIONED_FRAMES = ("event", "state")


class GameWatcher:
    """A player's socket on ``base_url`` following ``game_id`` (see :meth:`follow`)."""

    def __init__(self, base_url: str, token: str, game_id: str, timeout: float = 10.0) -> None:
        self.game_id = game_id
        self._url = base_url.replace("http://", "ws://", 1) + "/ws?token=" + token
        self._version = 0
        self._arrived = 0.0  # time.monotonic() of the frame that raised the version
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self.error: str | None = None
        # websockets wants its connections entered as a context; this one spans the drill.
        self._exits = contextlib.ExitStack()
        self._socket: ClientConnection = self._exits.enter_context(
            connect(self._url, open_timeout=timeout)
        )
        self._join(game_id)
        self._thread = threading.Thread(target=self._read, name="drill-watcher", daemon=True)
        self._thread.start()

    def _join(self, game_id: str) -> None:
        self._socket.send(json.dumps({"t": "join", "d": {"gameId": game_id}}))

    def follow(self, game_id: str) -> None:
        """Switch to another game (the drill's game ended): versions start again from 0."""
        with self._changed:
            self.game_id, self._version, self._arrived = game_id, 0, 0.0
        self._join(game_id)

    @property
    def version(self) -> int:
        with self._changed:
            return self._version

    def _read(self) -> None:
        try:
            while not self._closed.is_set():
                try:
                    raw = self._socket.recv(timeout=0.5)
                except TimeoutError:
                    continue
                self._on_frame(json.loads(raw))
        except (WebSocketException, OSError, ValueError) as error:
            if not self._closed.is_set():
                self.error = f"{type(error).__name__}: {error}"
        finally:
            with self._changed:
                self._changed.notify_all()

    def _on_frame(self, frame: dict[str, Any]) -> None:
        data = frame.get("d") or {}
        if frame.get("t") not in VERSIONED_FRAMES or data.get("gameId") != self.game_id:
            return
        version = int(data.get("v") or 0)
        with self._changed:
            if version > self._version:
                self._version, self._arrived = version, time.monotonic()
            self._changed.notify_all()

    def wait_for(self, version: int, timeout: float) -> float | None:
        """When (``time.monotonic()``) a frame announcing ``version`` or later arrived, or
        None when none did within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._version < version:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.error is not None:
                    return None
                self._changed.wait(remaining)
            return self._arrived

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(Exception):
            self._exits.close()
        self._thread.join(timeout=2.0)
