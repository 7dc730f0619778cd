"""A position stored without its move history plays exactly like the one with it: the rules
read only the summary fields (moveCount, lastMover, playersMoved), never the history."""

from __future__ import annotations

import random

import pytest

from ringrift.rules import GameState, apply_move, legal_moves, new_game
from ringrift.rules.moves import SWAP_SIDES
from ringrift.rules.state import COMPLETED


def _strip(state: GameState) -> GameState:
    return GameState.from_json(state.to_json(include_history=False))


@pytest.mark.parametrize(
    ("board", "players", "seed", "options"),
    [
        ("square8", 2, 1, {"swapRuleEnabled": True}),
        ("square8", 3, 2, None),
        ("hex8", 2, 3, None),
        ("square8", 4, 4, None),
    ],
)
def test_a_history_free_position_plays_like_the_full_one(
    board: str, players: int, seed: int, options: dict[str, bool] | None
) -> None:
    rng = random.Random(seed)
    full = new_game(board, players, options)
    for _ in range(600):
        if full.game_status == COMPLETED:
            break
        lean = _strip(full)
        assert "moveHistory" not in full.to_json(include_history=False)
        assert lean.history == ()
        assert lean.move_count == full.move_count == len(full.history)
        assert lean.state_hash() == full.state_hash()
        expected = legal_moves(full)
        assert legal_moves(lean) == expected
        move = rng.choice(expected)
        full, after_lean = apply_move(full, move), apply_move(lean, move)
        assert after_lean.state_hash() == full.state_hash()
        assert after_lean.to_json(include_history=False) == full.to_json(include_history=False)
    assert full.move_count > 20


def test_the_summary_is_derived_from_a_history_when_the_fields_are_missing() -> None:
    state = new_game("square8", 2, {"swapRuleEnabled": True})
    while state.current_player == 1:
        state = apply_move(state, legal_moves(state)[0])
    data = state.to_json()
    for key in ("moveCount", "lastMover", "playersMoved"):
        del data[key]
    loaded = GameState.from_json(data)
    assert loaded.move_count == len(state.history) > 0
    assert (loaded.last_mover, loaded.has_moved(1), loaded.has_moved(2)) == (1, True, False)
    # R180: player 2 is offered the swap after player 1's first move, history or not.
    assert any(m.type == SWAP_SIDES for m in legal_moves(_strip(loaded)))
    assert any(m.type == SWAP_SIDES for m in legal_moves(loaded))


def test_bad_summary_fields_are_wire_format_errors() -> None:
    from ringrift.rules import WireFormatError

    data = new_game("square8", 2).to_json(include_history=False)
    for key, value in (("moveCount", -1), ("lastMover", 9), ("playersMoved", "1")):
        with pytest.raises(WireFormatError):
            GameState.from_json({**data, key: value})
