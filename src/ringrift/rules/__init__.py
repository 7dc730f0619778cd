"""``ringrift.rules``: the complete RingRift rules engine, pure Python, no I/O.

    >>> from ringrift.rules import new_game, legal_moves, apply_move
    >>> state = new_game("square8", 2)
    >>> state = apply_move(state, legal_moves(state)[0])

States and moves round-trip through the contract-vector wire format with
``GameState.from_json`` / ``state.to_json()`` and ``Move.from_json`` / ``move.to_json()``.
Rule ids (``Rxxx``) in docstrings refer to ``docs/rules.md``.
"""

from ringrift.rules.engine import (
    PHASE_MOVE_TYPES,
    apply_move,
    apply_recorded_move,
    legal_moves,
    new_game,
    withdraw,
)
from ringrift.rules.errors import IllegalMove, RulesError, WireFormatError
from ringrift.rules.geometry import BOARD_TYPES, Geometry, geometry
from ringrift.rules.moves import Move
from ringrift.rules.state import GameState

__all__ = [
    "BOARD_TYPES",
    "PHASE_MOVE_TYPES",
    "GameState",
    "Geometry",
    "IllegalMove",
    "Move",
    "RulesError",
    "WireFormatError",
    "apply_move",
    "apply_recorded_move",
    "geometry",
    "legal_moves",
    "new_game",
    "withdraw",
]
