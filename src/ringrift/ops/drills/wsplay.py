"""A WebSocket game client that survives losing its server: what drills use to play through a
load balancer while an app instance dies.

One :class:`LiveGame` is a two-player human game with one socket per seat. The seat to move
picks a random legal move from the last ``state``/``event`` frame that offered it and sends it
with an ``ack`` id; every move is kept as a :class:`MoveRecord` whose outcome is decided by the
server (``ack``: acknowledged, ``error``: rejected) or by the socket dying first
(``INTERRUPTED``, the move's fate is unknown to the client). A socket that drops reconnects
with backoff to the same URL and sends ``join`` with the last version the client knows, so the
server sends what it missed (a resync by version, docs/system.md); the client never resends a
move blindly, it plays on from the fresh prompt. Each drop is kept as a :class:`Reconnect`,
with the app that served the socket before and after (the balancer's ``X-RingRift-Served-By``
header, when there is one).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ringrift.ops.balancer import SERVED_BY_HEADER
from ringrift.server.frames import ServerFrame

CONNECT_TIMEOUT_SECONDS = 5.0
BACKOFF_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0)
# A game that sees no prompt for this long asks the server again (join by version): the event
# of a move committed by an instance that died before publishing it reaches nobody else.
STALL_SECONDS = 2.0
ANSWER_TIMEOUT_SECONDS = 20.0


class MoveOutcome(enum.Enum):
    PENDING = "pending"
    ACKED = "acknowledged"
    REJECTED = "rejected"
    INTERRUPTED = "interrupted"  # the socket died before an answer


@dataclass
class MoveRecord:
    game_id: str
    seat: int
    version: int  # the version the move was played against
    sent_at: float
    outcome: MoveOutcome = MoveOutcome.PENDING
    answered_at: float | None = None
    detail: str = ""


@dataclass
class Reconnect:
    game_id: str
    seat: int
    dropped_at: float
    served_by_before: str
    # How the socket ended: the close frame's code and reason (1006: the connection broke
    # without one, as when the server is killed).
    close_code: int | None = None
    close_reason: str = ""
    rejoined_at: float | None = None
    served_by_after: str = ""
    attempts: int = 0

    @property
    def seconds(self) -> float | None:
        return None if self.rejoined_at is None else self.rejoined_at - self.dropped_at


@dataclass
class _Prompt:
    version: int
    legal: list[dict[str, Any]]


class Seat:
    """One player's socket in one game; reconnects by itself until the game is closed."""

    def __init__(self, game: LiveGame, seat: int, token: str) -> None:
        self.game = game
        self.seat = seat
        self.token = token
        self.ws: ClientConnection | None = None
        self.served_by = ""
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and join (raises when the first connection fails), then keep reading."""
        await self._connect()
        self.task = asyncio.create_task(self._run())

    async def _connect(self) -> None:
        url = f"{self.game.ws_url}?token={self.token}"
        ws = await connect(url, open_timeout=CONNECT_TIMEOUT_SECONDS, max_size=2**24)
        self.ws = ws
        self.served_by = ws.response.headers.get(SERVED_BY_HEADER, "") if ws.response else ""
        await self.join()
        self.connected.set()

    async def join(self) -> None:
        """Subscribe (again) at the version the client knows: the server sends what is newer,
        and the legal moves when this seat is to move."""
        if self.ws is None:
            return
        data: dict[str, Any] = {"gameId": self.game.game_id}
        if self.game.version:
            data["v"] = self.game.version
        await self.ws.send(json.dumps({"t": "join", "d": data}))

    async def send_move(self, move: dict[str, Any], version: int, ack: str) -> None:
        if self.ws is None:
            raise ConnectionError("not connected")
        frame = {"gameId": self.game.game_id, "move": move, "v": version, "ack": ack}
        await self.ws.send(json.dumps({"t": "move", "d": frame}))

    async def _run(self) -> None:
        while not self.game.closed:
            ws = self.ws
            if ws is not None:
                with contextlib.suppress(ConnectionClosed):
                    async for raw in ws:
                        self.game.on_frame(self, json.loads(raw))
            if self.game.closed:
                return
            dropped = Reconnect(
                self.game.game_id, self.seat, time.monotonic(), served_by_before=self.served_by
            )
            if ws is not None:
                dropped.close_code, dropped.close_reason = ws.close_code, ws.close_reason or ""
            self.game.reconnects.append(dropped)
            self.connected.clear()
            self.ws = None
            self.game.on_drop(self, dropped.dropped_at)
            await self._reconnect(dropped)

    async def _reconnect(self, dropped: Reconnect) -> None:
        while not self.game.closed:
            dropped.attempts += 1
            try:
                await self._connect()
            except (OSError, TimeoutError, InvalidHandshake, InvalidStatus, ConnectionClosed):
                delay = BACKOFF_SECONDS[min(dropped.attempts, len(BACKOFF_SECONDS)) - 1]
                await asyncio.sleep(delay)
                continue
            dropped.rejoined_at = time.monotonic()
            dropped.served_by_after = self.served_by
            return

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


@dataclass
class LiveGame:
    """Both seats of one game, played from this process through ``ws_url``."""

    game_id: str
    ws_url: str
    rng: random.Random
    think_seconds: float = 0.05
    version: int = 0
    status: str = "active"
    closed: bool = False
    moves: list[MoveRecord] = field(default_factory=list)
    reconnects: list[Reconnect] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    stall_resyncs: int = 0
    seats: dict[int, Seat] = field(default_factory=dict)
    _prompts: dict[int, _Prompt] = field(default_factory=dict)
    _pending: dict[str, tuple[MoveRecord, asyncio.Future[None]]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self, tokens: dict[int, str]) -> None:
        for seat, token in tokens.items():
            self.seats[seat] = Seat(self, seat, token)
            await self.seats[seat].start()

    # -- frames ----------------------------------------------------------------------------

    def on_frame(self, seat: Seat, frame: dict[str, Any]) -> None:
        kind, data = frame.get("t"), frame.get("d") or {}
        if kind in (ServerFrame.STATE, ServerFrame.EVENT):
            self.version = max(self.version, int(data.get("v") or 0))
            self.status = str(data.get("status") or self.status)
            if data.get("legalMoves"):
                self._prompts[seat.seat] = _Prompt(int(data["v"]), list(data["legalMoves"]))
        elif kind == ServerFrame.ACK:
            self._answer(str(data.get("ack")), MoveOutcome.ACKED, version=data.get("v"))
        elif kind == ServerFrame.ERROR:
            self.errors.append(data)
            detail = f"{data.get('code')}: {data.get('message')}"
            self._answer(str(data.get("ack")), MoveOutcome.REJECTED, detail=detail)
        elif kind == ServerFrame.RESYNC:
            asyncio.get_running_loop().create_task(seat.join())
        self._changed.set()

    def _answer(
        self, ack: str, outcome: MoveOutcome, *, version: Any = None, detail: str = ""
    ) -> None:
        pending = self._pending.pop(ack, None)
        if pending is None:
            return  # the ack of a join, or an answer to nothing of ours
        record, future = pending
        record.outcome, record.answered_at, record.detail = outcome, time.monotonic(), detail
        if isinstance(version, int):
            self.version = max(self.version, version)
        if not future.done():
            future.set_result(None)

    def on_drop(self, seat: Seat, at: float) -> None:
        """The seat's socket died: its unanswered move has an unknown fate."""
        for ack, (record, future) in list(self._pending.items()):
            if record.seat == seat.seat:
                del self._pending[ack]
                record.outcome, record.answered_at = MoveOutcome.INTERRUPTED, at
                record.detail = f"socket to {seat.served_by or 'the server'} closed"
                if not future.done():
                    future.set_result(None)
        self._prompts.pop(seat.seat, None)
        self._changed.set()

    # -- play ------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status == "active" and not self.closed

    def acknowledged(self, since: float = 0.0) -> int:
        return sum(m.outcome is MoveOutcome.ACKED and m.sent_at >= since for m in self.moves)

    async def _next_prompt(self) -> tuple[Seat, _Prompt] | None:
        """The seat to move and its legal moves at the current version; asks the server again
        by version after a stall. None when the game is over or closed."""
        waited_since = time.monotonic()
        while self.active:
            for number, prompt in list(self._prompts.items()):
                seat = self.seats[number]
                if prompt.version == self.version and seat.connected.is_set():
                    del self._prompts[number]
                    return seat, prompt
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.25)
            if time.monotonic() - waited_since > STALL_SECONDS:
                self.stall_resyncs += 1
                waited_since = time.monotonic()
                for seat in self.seats.values():
                    if seat.connected.is_set():
                        with contextlib.suppress(ConnectionClosed):
                            await seat.join()
        return None

    async def play(self, done: Callable[[LiveGame], bool]) -> None:
        """Move until ``done(self)`` holds or the game ends."""
        while self.active and not done(self):
            turn = await self._next_prompt()
            if turn is None:
                return
            seat, prompt = turn
            record = MoveRecord(self.game_id, seat.seat, prompt.version, time.monotonic())
            self.moves.append(record)
            ack = f"m{len(self.moves)}"
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._pending[ack] = (record, future)
            try:
                await seat.send_move(self.rng.choice(prompt.legal), prompt.version, ack)
                await asyncio.wait_for(future, ANSWER_TIMEOUT_SECONDS)
            except (ConnectionClosed, ConnectionError):
                if record.outcome is MoveOutcome.PENDING:
                    self.on_drop(seat, time.monotonic())
            except TimeoutError:
                self._pending.pop(ack, None)
                record.outcome, record.detail = MoveOutcome.REJECTED, "no answer in time"
            if self.think_seconds:
                await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.think_seconds)

    async def close(self) -> None:
        self.closed = True
        for seat in self.seats.values():
            await seat.close()
