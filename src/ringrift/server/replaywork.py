"""The CPU part of a replay, run in a worker process (``AppContext.replay_pool``) so the
event loop of the app never waits for the GIL while positions are rebuilt. Imports only the
rules engine, so a worker starts fast."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
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


def replay(base: str | NewGame, moves: Sequence[str], game_id: str) -> bytes:
    """The position document (JSON) after applying recorded moves, as JSON text, to ``base``: a
    stored position (JSON text) or a new game. The moves were validated when they were made; a
    ``withdraw`` entry (F-30, written by the server) takes its seat out of the game. Text in,
    bytes out: the app's event loop neither decodes nor re-encodes a position, and a string
    crosses the process boundary far cheaper than the document's many small objects."""
    if isinstance(base, NewGame):
        options = dict(base.rules_options) if base.rules_options else None
        state = new_game(base.board_type, base.players, options)
    else:
        state = GameState.from_json(orjson.loads(base))
    for text in moves:
        move = orjson.loads(text)
        if move.get("type") == WITHDRAW:
            state = withdraw(state, int(move["player"]), str(move["reason"]))
        else:
            state = apply_recorded_move(state, Move.from_json(move))
    return orjson.dumps(Position.of(state, game_id).doc)
