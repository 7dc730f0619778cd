"""The CPU part of a replay, run in a worker process (``AppContext.replay_pool``) so the
event loop of the app never waits for the GIL while positions are rebuilt, and the evaluation
curve of a game (the one job that needs the AI). Imports only the rules engine, so a worker
starts fast; the AI is imported on a worker's first curve."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ringrift.rules import GameState, Move, apply_recorded_move, new_game, withdraw
from ringrift.server.positions import Position

# The moves-table type of a withdrawal entry (``services.moves.Withdrawal``); repeated here so a
# replay worker imports only the rules engine.
WITHDRAW = "withdraw"

# How much lower than the app's event loop a replay worker runs (``nice`` increment): a replay
# is background work, and on a busy box the loop that answers moves and /health comes first.
WORKER_NICENESS = 10


# How often a worker checks that the app that started it is still there.
ORPHAN_CHECK_SECONDS = 1.0


def start_worker(parent: int, increment: int = WORKER_NICENESS) -> None:
    """The worker process's initializer (``parent``: the pid of the app that made the pool):
    yield the CPU to the app's event loop, and exit once the app is gone. An app killed with
    SIGKILL (or by a supervisor's timeout) never shuts its pool down, and a worker holds both
    ends of its call queue, so it would otherwise wait for work forever (``bench ws`` left such
    orphans behind). The app's pid comes from the app, not from ``getppid()`` here: a worker
    that starts after its app died (spawned by a replay submitted during shutdown) would read
    init's pid as its parent and watch init forever."""
    os.nice(increment)
    threading.Thread(
        target=_exit_when_orphaned, args=(parent,), name="orphan-watch", daemon=True
    ).start()


def _exit_when_orphaned(parent: int, interval: float = ORPHAN_CHECK_SECONDS) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(0)


def ready() -> int:
    """A no-op job that makes the pool start a worker process; its pid."""
    return os.getpid()


@dataclass(frozen=True)
class NewGame:
    """What a game's first position is made of, for a replay that starts before the first
    snapshot."""

    board_type: str
    players: int
    rules_options: dict[str, Any] | None

    def state(self) -> GameState:
        options = dict(self.rules_options) if self.rules_options else None
        return new_game(self.board_type, self.players, options)


def replay(base: str | NewGame, moves: Sequence[str], game_id: str) -> bytes:
    """The position document (JSON) after applying recorded moves, as JSON text, to ``base``: a
    stored position (JSON text) or a new game. The moves were validated when they were made; a
    ``withdraw`` entry (F-30, written by the server) takes its seat out of the game. Text in,
    bytes out: the app's event loop neither decodes nor re-encodes a position, and a string
    crosses the process boundary far cheaper than the document's many small objects."""
    state = base.state() if isinstance(base, NewGame) else GameState.from_json(orjson.loads(base))
    for text in moves:
        state = _apply(state, orjson.loads(text))
    return orjson.dumps(Position.of(state, game_id).doc)


def _apply(state: GameState, move: dict[str, Any]) -> GameState:
    """One recorded move (parsed JSON): a rules move, or a ``withdraw`` entry."""
    if move.get("type") == WITHDRAW:
        return withdraw(state, int(move["player"]), str(move["reason"]))
    return apply_recorded_move(state, Move.from_json(move))


def evaluation_curve(base: NewGame, moves: Sequence[str]) -> bytes:
    """A whole game's evaluation curve and turning points (`ringrift.ai.curve`) as JSON
    ``{"points": [...], "turningPoints": [...]}``, replaying every recorded move from the
    first position. The AI is imported here, on the first curve a worker computes, so that a
    worker that only replays keeps starting fast."""
    from ringrift.ai.curve import curve, turning_points

    withdrawals: set[int] = set()

    def positions() -> Iterator[tuple[int, GameState]]:
        state = base.state()
        yield 0, state
        for version, text in enumerate(moves, 1):
            move = orjson.loads(text)
            if move.get("type") == WITHDRAW:
                withdrawals.add(version)
            state = _apply(state, move)
            yield version, state

    points = curve(positions())
    turning = turning_points(points, exclude=withdrawals)
    return orjson.dumps(
        {
            "points": [p.to_json() for p in points],
            "turningPoints": [t.to_json() for t in turning],
        }
    )
