"""Work done in the service's process pool: one search per call, off the event loop."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from ringrift.ai import choose_move
from ringrift.ai.analysis import analyze as analyze_position
from ringrift.rules import GameState

PARENT_POLL_S = 0.5


def watch_parent(parent_pid: int) -> None:
    """Pool initializer: exit this worker as soon as the service process is gone (for
    example killed with SIGKILL), so that no orphaned search process is left behind."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def warm_up() -> bool:
    """Import everything a search needs, so the first real request is not slowed down."""
    return True


def search(
    state_json: dict[str, Any],
    level: int,
    seed: int | None,
    scale: float | None,
    budget_s: float | None = None,
) -> dict[str, Any]:
    """One search; ``budget_s`` (a cap from the caller's clock) replaces the level's budget."""
    state = GameState.from_json(state_json)
    decision = choose_move(state, level, seed=seed, budget_scale=scale, budget_s=budget_s)
    return {
        "move": decision.move.to_json(),
        "evaluation": decision.evaluation,
        "thinking_time_ms": decision.thinking_time_ms,
        "nodes": decision.nodes,
    }


def analyze(
    state_json: dict[str, Any], level: int, top: int, scale: float | None
) -> dict[str, Any]:
    """The analysis of a position (``ringrift.ai.analysis``) as its JSON document."""
    state = GameState.from_json(state_json)
    return analyze_position(state, level, top=top, budget_scale=scale).to_json()
