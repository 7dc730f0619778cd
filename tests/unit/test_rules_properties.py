"""Property tests over seeded random games on every board and player count."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringrift.rules import GameState, Move, apply_move, legal_moves, new_game
from ringrift.rules.state import COMPLETED

SMALL = st.sampled_from(["square8", "hex8"])
LARGE = st.sampled_from(["square19", "hexagonal"])
PLAYERS = st.integers(min_value=2, max_value=4)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _total_rings(s: GameState) -> int:
    return sum(s.hand[1:]) + sum(len(x) for x in s.stacks if x) + sum(s.board_eliminated)


def _check_game(board: str, players: int, seed: int, *, deep_every: int) -> None:
    """Play a random game, checking the invariants of docs/rules.md at every ply."""
    rng = random.Random(seed)
    state = new_game(board, players)
    total = state.rings_per_player * players
    hashes = [state.state_hash()]
    played: list[Move] = []
    progress = state.progress()
    for ply in range(20_000):
        moves = legal_moves(state)
        if state.game_status == COMPLETED:
            assert moves == []
            break
        assert moves, f"no legal move at ply {ply} in phase {state.current_phase}"
        # Every listed move applies (a sample on wide lists keeps this fast).
        sample = moves if len(moves) <= 4 else rng.sample(moves, 4)
        for m in sample:
            apply_move(state, m)
        move = rng.choice(moves)
        nxt = apply_move(state, move)
        # R191: S never decreases.
        assert nxt.progress() >= progress
        progress = nxt.progress()
        # Rings are conserved: hand + board + eliminated = total supply.
        assert _total_rings(nxt) == total
        assert sum(nxt.on_board[1:]) == sum(len(x) for x in nxt.stacks if x)
        if ply % deep_every == 0:
            again = GameState.from_json(nxt.to_json())
            assert again.state_hash() == nxt.state_hash()
            assert again.to_json() == nxt.to_json()
            assert legal_moves(again) == legal_moves(nxt)
        state = nxt
        played.append(move)
        hashes.append(state.state_hash())
    else:
        raise AssertionError("game did not terminate")
    assert state.winner is not None
    ranks = state.final_ranks()
    assert ranks[state.winner - 1] == 1
    assert sorted(ranks)[0] == 1 and all(1 <= r <= players for r in ranks)
    # Replaying the move list through the wire format reproduces every state.
    replay = new_game(board, players)
    for i, m in enumerate(played):
        replay = apply_move(replay, Move.from_json(m.to_json()))
        if i % deep_every == 0 or i == len(played) - 1:
            assert replay.state_hash() == hashes[i + 1]


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(board=SMALL, players=PLAYERS, seed=SEEDS)
def test_small_board_games(board: str, players: int, seed: int) -> None:
    _check_game(board, players, seed, deep_every=1)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(board=LARGE, players=PLAYERS, seed=SEEDS)
def test_large_board_games(board: str, players: int, seed: int) -> None:
    _check_game(board, players, seed, deep_every=40)


def test_every_board_and_player_count_finishes() -> None:
    """One fixed seed per configuration, so every combination runs on every test run."""
    for board in ("square8", "hex8", "square19", "hexagonal"):
        for players in (2, 3, 4):
            _check_game(board, players, seed=7, deep_every=97)
