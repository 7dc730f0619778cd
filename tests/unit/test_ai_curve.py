"""The evaluation curve of a game (`ringrift.ai.curve`): points at turn ends, shares that add
up to 1, a finished game's certainty, and the turning points."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringrift.ai.curve import (
    MAX_TURNING_POINTS,
    SWING,
    CurvePoint,
    curve,
    shares,
    turning_points,
)
from ringrift.ai.evaluation import win_probability
from ringrift.ai.fitted import LearnedEvaluation
from ringrift.rules import GameState, apply_move, legal_moves, new_game


def _game(board: str, players: int, seed: int, plies: int) -> list[tuple[int, GameState]]:
    rng = random.Random(seed)
    state = new_game(board, players)
    out = [(0, state)]
    for version in range(1, plies + 1):
        if state.game_status != "active":
            break
        state = apply_move(state, rng.choice(legal_moves(state)))
        out.append((version, state))
    return out


@pytest.mark.parametrize(("board", "players"), [("square8", 2), ("hex8", 3), ("square8", 4)])
def test_a_point_at_the_start_and_after_every_turn(board: str, players: int) -> None:
    positions = _game(board, players, seed=4, plies=120)
    points = curve(positions)
    by_version = dict(positions)
    expected = [0] + [
        v
        for v, s in positions[1:]
        if s.game_status != "active" or s.current_player != by_version[v - 1].current_player
    ]
    assert [p.version for p in points] == expected
    assert points[0].mover is None
    for p in points[1:]:
        assert p.mover == by_version[p.version - 1].current_player
        assert p.shares == shares(by_version[p.version])
    for p in points:
        assert len(p.shares) == players
        assert sum(p.shares) == pytest.approx(1.0)
        assert all(0.0 <= x <= 1.0 for x in p.shares)


def test_two_player_shares_are_the_learned_win_chances() -> None:
    state = _game("square8", 2, seed=6, plies=40)[-1][1]
    learned = LearnedEvaluation()
    assert shares(state) == pytest.approx(
        (win_probability(learned(state, 1)), win_probability(learned(state, 2)))
    )


def test_a_finished_game_ends_at_certainty() -> None:
    positions = _game("square8", 2, seed=1, plies=10_000)
    final = positions[-1][1]
    assert final.game_status != "active" and final.winner is not None
    last = curve(positions)[-1]
    assert last.version == positions[-1][0]
    assert last.shares[final.winner - 1] == 1.0 and sum(last.shares) == 1.0


def _point(version: int, mover: int | None, first: float) -> CurvePoint:
    return CurvePoint(version, mover, (first, 1.0 - first))


def test_turning_points_are_the_biggest_swings_in_game_order() -> None:
    chances = [0.5, 0.52, 0.8, 0.75, 0.3, 0.35, 0.34, 0.9]
    points = [_point(0, None, chances[0])] + [
        _point(3 * i, 1 + i % 2, c) for i, c in enumerate(chances[1:], 1)
    ]
    found = turning_points(points)
    assert [(t.version, t.mover, t.seat) for t in found] == [(6, 1, 1), (12, 1, 1), (21, 2, 1)]
    assert [(t.before, t.after) for t in found] == [(0.52, 0.8), (0.75, 0.3), (0.34, 0.9)]
    assert [t.version for t in turning_points(points, limit=1)] == [21]
    assert turning_points(points, swing=0.6) == []
    # A seat leaving the game (a resignation recorded at version 21) is not a turn of play.
    assert [t.version for t in turning_points(points, exclude={21})] == [6, 12]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=60))
def test_turning_points_respect_the_threshold_and_the_limit(chances: list[float]) -> None:
    points = [_point(0, None, chances[0])] + [
        _point(i, 1 + i % 2, c) for i, c in enumerate(chances[1:], 1)
    ]
    found = turning_points(points)
    assert len(found) <= MAX_TURNING_POINTS
    assert [t.version for t in found] == sorted(t.version for t in found)
    swings = sorted((abs(b - a) for a, b in itertools.pairwise(chances)), reverse=True)
    big = [s for s in swings if s >= SWING][:MAX_TURNING_POINTS]
    assert sorted((t.swing for t in found), reverse=True) == pytest.approx(big)
