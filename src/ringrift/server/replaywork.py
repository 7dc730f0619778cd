"""The CPU part of a replay, run in a worker process (``AppContext.replay_pool``) so the
event loop of the app never waits for the GIL while positions are rebuilt. Imports only the
rules engine, so a worker starts fast."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from ringrift.rules import GameState, Move, apply_recorded_move, withdraw
from ringrift.server.positions import Position

# The moves-table type of a withdrawal entry (``services.moves.Withdrawal``); repeated here so a
# replay worker imports only the rules engine.
WITHDRAW = "withdraw"

# How much lower than the app's event loop a replay worker runs (``nice`` increment): a replay
# is background work, and on a busy box the loop that answers moves and /health comes first.
WORKER_NICENESS = 10


# How often a worker checks that the app that started it is still there.
ORPHAN_CHECK_SECONDS = 1.0


def start_worker(increment: int = WORKER_NICENESS) -> None:
    """The worker process's initializer: yield the CPU to the app's event loop, and exit once
    the app is gone. An app killed with SIGKILL (or by a supervisor's timeout) never shuts its
    pool down, and a worker holds both ends of its call queue, so it would otherwise wait for
    work forever (``bench ws`` left such orphans behind)."""
    os.nice(increment)
    threading.Thread(
        target=_exit_when_orphaned, args=(os.getppid(),), name="orphan-watch", daemon=True
    ).start()


def _exit_when_orphaned(parent: int, interval: float = ORPHAN_CHECK_SECONDS) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(0)


def ready() -> int:
    """A no-op job that makes the pool start a worker process; its pid."""
    return os.getpid()


def replay(
    base_doc: dict[str, Any], moves: Sequence[dict[str, Any]], game_id: str
) -> dict[str, Any]:
    """Apply recorded moves to a stored position (they were validated when they were made); a
    ``withdraw`` entry (F-30, written by the server) takes its seat out of the game."""
    state = GameState.from_json(base_doc)
    for move in moves:
        if move.get("type") == WITHDRAW:
            state = withdraw(state, int(move["player"]), str(move["reason"]))
        else:
            state = apply_recorded_move(state, Move.from_json(move))
    return Position.of(state, game_id).doc
