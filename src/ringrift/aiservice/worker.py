"""Work done in the service's process pool: one search per call, off the event loop."""

from __future__ import annotations

from typing import Any

from ringrift.ai import choose_move
from ringrift.rules import GameState


def warm_up() -> bool:
    """Import everything a search needs, so the first real request is not slowed down."""
    return True


def search(
    state_json: dict[str, Any], level: int, seed: int | None, scale: float | None
) -> dict[str, Any]:
    state = GameState.from_json(state_json)
    decision = choose_move(state, level, seed=seed, budget_scale=scale)
    return {
        "move": decision.move.to_json(),
        "evaluation": decision.evaluation,
        "thinking_time_ms": decision.thinking_time_ms,
        "nodes": decision.nodes,
    }
