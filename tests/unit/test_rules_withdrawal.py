"""F-30: a seat that withdraws (lost on time, abandoned a 3-4 player game) leaves the turn
order while its pieces stay; the last seat in play wins; withdrawn seats rank last."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringrift.rules import (
    GameState,
    IllegalMove,
    WireFormatError,
    apply_move,
    legal_moves,
    new_game,
    withdraw,
)


def _play(state: GameState, moves: int, seed: int) -> GameState:
    rng = random.Random(seed)
    for _ in range(moves):
        if state.game_status != "active":
            break
        state = apply_move(state, rng.choice(legal_moves(state)))
    return state


def _finish(state: GameState, seed: int) -> tuple[GameState, list[int]]:
    """Play to the end at random; also return who made each move."""
    rng = random.Random(seed)
    movers: list[int] = []
    while state.game_status == "active":
        move = rng.choice(legal_moves(state))
        movers.append(move.player)
        state = apply_move(state, move)
    return state, movers


def test_withdrawing_the_seat_to_move_passes_the_turn() -> None:
    state = _play(new_game("square8", 3), 30, seed=1)
    seat = state.current_player
    stacks_before = list(state.stacks)
    after = withdraw(state, seat, "timeout")
    assert after.withdrawn == (seat,)
    assert after.current_player == seat % 3 + 1
    assert after.current_phase == "ring_placement"
    assert after.turn_number == state.turn_number + 1
    assert after.move_count == state.move_count  # withdrawal is not a move
    assert after.stacks == stacks_before  # the pieces stay on the board
    assert state.withdrawn == () and state.current_player == seat  # input untouched
    assert all(m.player == after.current_player for m in legal_moves(after))


def test_withdrawing_another_seat_leaves_the_turn_alone() -> None:
    state = _play(new_game("hex8", 4), 25, seed=2)
    other = state.current_player % 4 + 1
    after = withdraw(state, other, "abandoned")
    assert after.current_player == state.current_player
    assert after.current_phase == state.current_phase
    assert legal_moves(after) == legal_moves(state)
    assert not after.to_json()["players"][other - 1]["isActive"]


def test_a_withdrawn_seat_never_moves_again_and_ranks_last() -> None:
    state = _play(new_game("square8", 4), 20, seed=3)
    state = withdraw(state, 2, "timeout")
    state = _play(state, 12, seed=4)
    state = withdraw(state, 3, "timeout")
    final, movers = _finish(state, seed=5)
    assert final.game_status == "completed"
    assert 2 not in movers and 3 not in movers
    ranks = final.final_ranks()
    assert ranks[1] == 4 and ranks[2] == 3  # earlier withdrawal ranks below the later one
    assert sorted(ranks[0:1] + ranks[3:4]) == [1, 2]


def test_two_player_withdrawal_ends_the_game() -> None:
    state = _play(new_game("square8", 2), 10, seed=6)
    final = withdraw(state, 1, "timeout")
    assert final.game_status == "completed" and final.current_phase == "game_over"
    assert final.winner == 2 and final.victory_reason == "timeout"
    assert final.final_ranks() == [2, 1]


def test_last_seat_in_play_wins_a_three_player_game() -> None:
    state = _play(new_game("square19", 3), 15, seed=7)
    state = withdraw(state, 3, "abandoned")
    assert state.game_status == "active"
    final = withdraw(state, 1, "timeout")
    assert (final.winner, final.victory_reason) == (2, "timeout")
    assert final.final_ranks() == [2, 1, 3]


def test_withdrawal_in_the_middle_of_a_capture_chain_ends_the_chain() -> None:
    rng = random.Random(8)
    for _ in range(200):
        state = new_game("square8", 3)
        while state.game_status == "active" and state.current_phase != "chain_capture":
            state = apply_move(state, rng.choice(legal_moves(state)))
        if state.current_phase == "chain_capture":
            break
    else:  # pragma: no cover - random play reaches a chain quickly
        pytest.fail("no capture chain reached")
    seat = state.current_player
    after = withdraw(state, seat, "timeout")
    assert after.chain_pos == -1 and after.current_phase == "ring_placement"
    assert after.current_player != seat


@pytest.mark.parametrize("seat", [0, 4, -1, True, "1", 1.0])
def test_bad_seats_are_refused(seat: object) -> None:
    state = new_game("square8", 3)
    with pytest.raises(IllegalMove):
        withdraw(state, seat, "timeout")  # type: ignore[arg-type]


def test_refusals_change_nothing() -> None:
    state = withdraw(new_game("square8", 3), 2, "timeout")
    with pytest.raises(IllegalMove, match="already"):
        withdraw(state, 2, "timeout")
    with pytest.raises(WireFormatError):
        withdraw(state, 1, "")
    over = withdraw(state, 1, "timeout")
    with pytest.raises(IllegalMove, match="over"):
        withdraw(over, 3, "timeout")
    assert state.withdrawn == (2,) and state.game_status == "active"


def test_wire_round_trip_and_hash() -> None:
    state = _play(new_game("hexagonal", 4), 12, seed=9)
    after = withdraw(state, 4, "timeout")
    data = after.to_json(include_history=False)
    assert data["withdrawnSeats"] == [4]
    loaded = GameState.from_json(data)
    assert loaded.withdrawn == (4,)
    assert loaded.state_hash() == after.state_hash() != state.state_hash()
    assert legal_moves(loaded) == legal_moves(after)


@pytest.mark.parametrize("bad", [5, "1,2", [0], [1, 1], [9], ["x"]])
def test_bad_withdrawn_seats_on_the_wire(bad: object) -> None:
    data = new_game("square8", 4).to_json()
    data["withdrawnSeats"] = bad
    with pytest.raises(WireFormatError):
        GameState.from_json(data)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    players=st.sampled_from([3, 4]),
    points=st.lists(st.integers(0, 80), min_size=1, max_size=3),
)
def test_random_withdrawals_keep_games_sound(seed: int, players: int, points: list[int]) -> None:
    """Whenever seats withdraw, the seat to move is in play, and the game still ends."""
    rng = random.Random(seed)
    state = new_game("square8", players)
    plies = 0
    while state.game_status == "active":
        if plies in points:
            candidates = [p for p in range(1, players + 1) if p not in state.withdrawn]
            state = withdraw(state, rng.choice(candidates), "timeout")
            continue
        assert state.current_player not in state.withdrawn
        state = apply_move(state, rng.choice(legal_moves(state)))
        plies += 1
    assert state.winner is not None and state.winner not in state.withdrawn
    ranks = state.final_ranks()
    stayed = [ranks[p - 1] for p in range(1, players + 1) if p not in state.withdrawn]
    left = [ranks[p - 1] for p in state.withdrawn]
    assert not left or max(stayed) < min(left)
