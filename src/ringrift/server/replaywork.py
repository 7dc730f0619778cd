"""The CPU part of a replay, run in a worker process (``AppContext.replay_pool``) so the
event loop of the app never waits for the GIL while positions are rebuilt. Imports only the
rules engine, so a worker starts fast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ringrift.rules import GameState, Move, apply_recorded_move
from ringrift.server.positions import Position


def replay(
    base_doc: dict[str, Any], moves: Sequence[dict[str, Any]], game_id: str
) -> dict[str, Any]:
    """Apply recorded moves to a stored position (they were validated when they were made)."""
    state = GameState.from_json(base_doc)
    for move in moves:
        state = apply_recorded_move(state, Move.from_json(move))
    return Position.of(state, game_id).doc
