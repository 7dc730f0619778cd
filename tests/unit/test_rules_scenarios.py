"""Hand-built positions for individual rules, each named after the rule it checks."""

from __future__ import annotations

from typing import Any

from ringrift.rules import GameState, Move, apply_move, legal_moves, new_game


def _state(
    stacks: dict[str, list[int]], markers: dict[str, int] | None = None, **extra: Any
) -> GameState:
    data: dict[str, Any] = {
        "board": {
            "type": "square8",
            "size": 8,
            "stacks": {k: {"rings": v} for k, v in stacks.items()},
            "markers": {k: {"player": v} for k, v in (markers or {}).items()},
            "collapsedSpaces": extra.pop("collapsed", {}),
        },
        "players": [
            {"playerNumber": 1, "ringsInHand": extra.pop("hand1", 10)},
            {"playerNumber": 2, "ringsInHand": extra.pop("hand2", 10)},
        ],
        "currentPlayer": 1,
        "currentPhase": extra.pop("phase", "movement"),
        "gameStatus": "active",
    }
    data.update(extra)
    return GameState.from_json(data)


def _types(s: GameState) -> set[str]:
    return {m.type for m in legal_moves(s)}


def test_r080_opening_offers_every_cell_and_count() -> None:
    assert len(legal_moves(new_game("square8", 2))) == 64 * 3
    assert len(legal_moves(new_game("hex8", 3))) == 61 * 3
    assert "skip_placement" not in _types(new_game("square8", 2))


def test_r082_must_move_restricts_movement_to_the_placed_stack() -> None:
    s = new_game("square8", 2)
    s = apply_move(s, Move("place_ring", 1, (3, 3), placement_count=2))
    moves = legal_moves(s)
    assert {m.from_ for m in moves} == {(3, 3)}
    assert all(max(abs(m.to[0] - 3), abs(m.to[1] - 3)) >= 2 for m in moves)


def test_r092_markers_flip_and_collapse_on_the_path() -> None:
    s = _state({"0,0": [1, 1, 1]}, {"1,0": 2, "2,0": 1})
    s = apply_move(s, Move("move_stack", 1, (3, 0), (0, 0)))
    assert s.markers[s.geo.index[(0, 0)]] == 1  # departure marker
    assert s.markers[s.geo.index[(1, 0)]] == 1  # opponent marker flipped
    assert s.collapsed[s.geo.index[(2, 0)]] == 1  # own marker collapsed
    assert s.territory[1] == 1


def test_r092_landing_on_a_marker_costs_the_top_ring() -> None:
    s = _state({"0,0": [1, 2]}, {"2,0": 2})
    s = apply_move(s, Move("move_stack", 1, (2, 0), (0, 0)))
    assert s.stack_at((2, 0)) == (2,)
    assert s.eliminated[1] == 1
    assert s.markers[s.geo.index[(2, 0)]] == 0


def test_r101_capture_takes_the_top_ring_to_the_bottom() -> None:
    s = _state({"3,3": [1, 1], "3,4": [2]})
    s = apply_move(s, Move("overtaking_capture", 1, (3, 5), (3, 3), (3, 4)))
    assert s.stack_at((3, 5)) == (1, 1, 2)
    assert s.stack_at((3, 4)) is None


def test_r121_exact_line_owes_one_ring_then_no_line_action() -> None:
    s = _state({"5,5": [1, 1]}, {"0,0": 1, "1,0": 1, "2,0": 1, "3,0": 1}, phase="line_processing")
    moves = legal_moves(s)
    assert [m.type for m in moves] == ["process_line"]
    s = apply_move(s, moves[0])
    assert s.collapsed_count() == 4
    assert _types(s) == {"eliminate_rings_from_stack"}
    s = apply_move(s, legal_moves(s)[0])
    assert s.stack_at((5, 5)) == (1,)
    assert _types(s) == {"no_line_action"}


def test_r122_overlength_line_offers_option_two_windows() -> None:
    row = {f"{x},0": 1 for x in range(5)}
    s = _state({"5,5": [1]}, row, phase="line_processing")
    moves = legal_moves(s)
    assert sorted(len(m.cells) for m in moves) == [4, 4, 5]
    window = next(m for m in moves if m.type == "choose_line_option")
    s = apply_move(s, window)
    assert s.collapsed_count() == 4
    assert s.current_phase == "territory_processing"  # nothing owed, no line left


def test_r205_a_turn_without_board_change_ends_in_forced_elimination() -> None:
    # P1's single ring is walled in by taller P2 caps: no move, no capture, no rings in hand.
    walls = {"1,0": [2, 2], "0,1": [2, 2], "1,1": [2, 2]}
    s = _state({"0,0": [1], **walls}, hand1=0, phase="ring_placement")
    for expected in ("no_placement_action", "no_movement_action", "no_line_action"):
        moves = legal_moves(s)
        assert [m.type for m in moves] == [expected]
        s = apply_move(s, moves[0])
    assert s.current_phase == "forced_elimination"
    assert [m.to for m in legal_moves(s)] == [(0, 0)]
    s = apply_move(s, legal_moves(s)[0])
    assert s.current_player == 2
    assert s.eliminated[1] == 1


def test_r180_swap_sides_only_when_enabled_and_only_for_p2_first_turn() -> None:
    for enabled in (False, True):
        s = new_game("square8", 2, {"swapRuleEnabled": enabled})
        while s.current_player == 1:
            s = apply_move(s, legal_moves(s)[0])
        assert ("swap_sides" in _types(s)) is enabled
    s = apply_move(s, Move("swap_sides", 2))
    assert s.current_player == 2
    assert "swap_sides" not in _types(s)


def test_r110_recovery_eligible_player_gets_slides_and_skip() -> None:
    s = _state({"6,6": [2, 1]}, {"0,0": 1, "1,0": 1, "2,1": 1}, hand1=0)
    types = _types(s)
    assert {"recovery_slide", "skip_recovery"} <= types
    assert "no_movement_action" not in types
