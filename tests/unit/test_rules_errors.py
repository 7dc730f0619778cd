"""Bad input to the engine: clear errors, nothing changed."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringrift.rules import (
    GameState,
    IllegalMove,
    Move,
    WireFormatError,
    apply_move,
    legal_moves,
    new_game,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)


def _opening() -> GameState:
    return new_game("square8", 2)


def _assert_refused(state: GameState, move: Move, fragment: str) -> None:
    before = json.dumps(state.to_json(), sort_keys=True)
    with pytest.raises(IllegalMove) as err:
        apply_move(state, move)
    assert fragment in err.value.reason
    assert json.dumps(state.to_json(), sort_keys=True) == before


def test_wrong_player_is_refused() -> None:
    _assert_refused(_opening(), Move("place_ring", 2, (3, 3), placement_count=1), "player 1's turn")


def test_wrong_phase_is_refused() -> None:
    _assert_refused(_opening(), Move("move_stack", 1, (3, 5), (3, 3)), "not allowed in phase")


def test_off_board_is_refused() -> None:
    _assert_refused(_opening(), Move("place_ring", 1, (9, 9), placement_count=1), "not a cell")


def test_occupied_cell_and_bad_count_are_refused() -> None:
    s = apply_move(_opening(), Move("place_ring", 1, (3, 3), placement_count=2))
    s = apply_move(s, legal_moves(s)[0])  # P1 moves its stack
    while s.current_player == 1:
        s = apply_move(s, legal_moves(s)[0])
    marker = next(s.geo.coords[c] for c, m in enumerate(s.markers) if m)
    _assert_refused(s, Move("place_ring", 2, marker, placement_count=1), "not legal")
    stack = next(s.geo.coords[c] for c, x in enumerate(s.stacks) if x)
    _assert_refused(s, Move("place_ring", 2, stack, placement_count=2), "not legal")


def test_game_over_refuses_moves() -> None:
    s = _opening()
    rng = random.Random(3)
    while s.game_status == "active":
        s = apply_move(s, rng.choice(legal_moves(s)))
    assert legal_moves(s) == []
    with pytest.raises(IllegalMove, match="over"):
        apply_move(s, Move("no_placement_action", s.current_player))


@pytest.mark.parametrize(
    ("board", "players"), [("chess", 2), ("square8", 1), ("square8", 5), ("hex8", "2")]
)
def test_new_game_rejects_bad_arguments(board: str, players: Any) -> None:
    with pytest.raises(ValueError):
        new_game(board, players)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "place_ring",
        {},
        {"type": "fly", "player": 1},
        {"type": "place_ring", "player": 0},
        {"type": "place_ring", "player": True},
        {"type": "place_ring", "player": 1, "to": {"x": "a", "y": 0}},
        {"type": "place_ring", "player": 1, "to": [1, 2]},
        {"type": "place_ring", "player": 1, "to": {"x": 1, "y": 1}, "placementCount": 4},
        {"type": "recovery_slide", "player": 1, "extractionStacks": ["1,1", "2,2"]},
        {"type": "eliminate_rings_from_stack", "player": 1, "eliminationContext": "magic"},
    ],
)
def test_malformed_moves_raise_wire_format_error(data: Any) -> None:
    with pytest.raises(WireFormatError):
        Move.from_json(data)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("board"),
        lambda d: d["board"].update(type="chess"),
        lambda d: d["board"]["stacks"].update({"99,99": {"rings": [1]}}),
        lambda d: d["board"]["stacks"].update({"0,0": {"rings": []}}),
        lambda d: d["board"]["stacks"].update({"0,0": {"rings": [7]}}),
        lambda d: d["board"]["markers"].update({"0,0": {"player": 1}, "0,1": {"player": "x"}}),
        lambda d: d.update(currentPhase="dancing"),
        lambda d: d.update(currentPlayer=3),
        lambda d: d.update(players="many"),
        lambda d: d["players"][0].update(ringsInHand=-1),
    ],
)
def test_malformed_states_raise_wire_format_error(mutate: Any) -> None:
    data = _opening().to_json()
    mutate(data)
    with pytest.raises(WireFormatError):
        GameState.from_json(data)


def test_cell_with_stack_and_marker_is_rejected() -> None:
    data = _opening().to_json()
    data["board"]["stacks"]["2,2"] = {"rings": [1]}
    data["board"]["markers"]["2,2"] = {"player": 2}
    with pytest.raises(WireFormatError, match="more than one"):
        GameState.from_json(data)


@settings(max_examples=300, deadline=None)
@given(data=JSON)
def test_arbitrary_json_move_is_parsed_or_refused_cleanly(data: Any) -> None:
    try:
        move = Move.from_json(data)
    except WireFormatError:
        return
    s = _opening()
    before = s.state_hash()
    with contextlib.suppress(IllegalMove):
        apply_move(s, move)
    assert s.state_hash() == before


@settings(max_examples=300, deadline=None)
@given(data=JSON)
def test_arbitrary_json_state_is_parsed_or_refused_cleanly(data: Any) -> None:
    try:
        state = GameState.from_json(data)
    except WireFormatError:
        return
    legal_moves(state)


@settings(max_examples=100, deadline=None)
@given(
    x=st.integers(-3, 10),
    y=st.integers(-3, 10),
    count=st.integers(1, 3),
    player=st.integers(1, 2),
)
def test_random_placements_apply_or_refuse_without_change(
    x: int, y: int, count: int, player: int
) -> None:
    s = _opening()
    before = s.state_hash()
    move = Move("place_ring", player, (x, y), placement_count=count)
    try:
        after = apply_move(s, move)
    except IllegalMove:
        assert s.state_hash() == before
        return
    assert move.identity() in {m.identity() for m in legal_moves(s)}
    assert after.hand[1] == s.hand[1] - count
