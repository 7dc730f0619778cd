"""Elo: K-factors, two-player and pairwise multi-player changes."""

from __future__ import annotations

import pytest

from ringrift.server.services.ratings import (
    Participant,
    expected_score,
    k_factor,
    outcome,
    rating_changes,
)


def test_k_factor_by_experience_and_rating() -> None:
    assert k_factor(1500, 0) == 40
    assert k_factor(1500, 29) == 40
    assert k_factor(1500, 30) == 20
    assert k_factor(2400, 5) == 10
    assert k_factor(2399.9, 100) == 20


def test_two_player_equal_ratings() -> None:
    win, loss = rating_changes([Participant(1500, 0, 1), Participant(1500, 0, 2)])
    assert win == pytest.approx(20.0) and loss == pytest.approx(-20.0)
    draw = rating_changes([Participant(1500, 50, 1), Participant(1500, 50, 1)])
    assert draw == [pytest.approx(0.0), pytest.approx(0.0)]


def test_upset_moves_more_and_is_zero_sum_for_equal_k() -> None:
    underdog, favourite = rating_changes([Participant(1400, 40, 1), Participant(1800, 40, 2)])
    assert underdog == pytest.approx(20 * (1 - expected_score(1400, 1800)))
    assert underdog > 15 and underdog + favourite == pytest.approx(0.0)


def test_multiplayer_pairwise_with_shared_rank() -> None:
    players = [
        Participant(1500, 0, 1),
        Participant(1500, 0, 2),
        Participant(1500, 0, 2),
        Participant(1500, 0, 4),
    ]
    first, second, third, last = rating_changes(players)
    assert first == pytest.approx(20.0)  # beat everyone: 40 * (3 * 0.5) / 3
    assert second == pytest.approx(third) == pytest.approx(0.0)
    assert last == pytest.approx(-20.0)
    assert sum((first, second, third, last)) == pytest.approx(0.0)


def test_outcome_and_bad_input() -> None:
    assert outcome(1, [1, 2]) == "win"
    assert outcome(1, [1, 1, 3]) == "draw"
    assert outcome(2, [1, 2]) == "loss"
    with pytest.raises(ValueError):
        rating_changes([Participant(1500, 0, 1)])
    with pytest.raises(ValueError):
        rating_changes([Participant(1500, 0, 0), Participant(1500, 0, 1)])
