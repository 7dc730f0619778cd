"""Position analysis (`ringrift.ai.analysis`): exact top moves, seat values, budgets."""

from __future__ import annotations

import random

import pytest
from playout_support import played

from ringrift.ai.alphabeta import _Search
from ringrift.ai.analysis import ANALYSIS_EVALUATION, MAX_TOP, analyze
from ringrift.ai.base import Limits
from ringrift.ai.evaluation import VALUE_SCALE, WIN_SCORE, evaluate, win_probability
from ringrift.ai.fitted import LearnedEvaluation, shipped_evaluator, sigmoid
from ringrift.rules import apply_move, legal_moves, new_game


@pytest.mark.parametrize(("board", "players"), [("square8", 2), ("hex8", 3), ("square8", 4)])
def test_one_ply_levels_score_the_top_moves_exactly(board: str, players: int) -> None:
    state = played(board, players, 14)
    me = state.current_player
    result = analyze(state, 4, top=5, node_limit=10**9)
    learned = LearnedEvaluation()  # 3-4 player files are not searched: the hand-written one
    expected = sorted(
        (learned(apply_move(state, m), me) for m in legal_moves(state)), reverse=True
    )[:5]
    assert [s.score for s in result.top_moves] == pytest.approx(expected)
    assert result.depth == 1 and result.complete
    assert result.player_to_move == me
    assert len(result.seats) == players
    # The mover's seat value is judged at the end of the best line: here the best child.
    assert result.seats[me - 1] == pytest.approx(expected[0])


def test_deeper_levels_keep_the_top_scores_exact() -> None:
    state = played("square8", 2, 20, seed=7)
    while len(legal_moves(state)) < 4:
        state = apply_move(state, legal_moves(state)[0])
    me = state.current_player
    result = analyze(state, 5, top=3, node_limit=10**9)
    assert result.depth == 2
    full = []
    for move in legal_moves(state):
        search = _Search(me, Limits(None, None), random.Random(0), 200_000)
        search.evaluate = LearnedEvaluation()
        full.append(search.search(apply_move(state, move), 1, -2 * WIN_SCORE, 2 * WIN_SCORE))
    full.sort(reverse=True)
    assert [s.score for s in result.top_moves] == pytest.approx(full[:3])


def test_two_player_seat_values_are_opposite() -> None:
    result = analyze(played("square8", 2, 10), 5, node_limit=10**9)
    assert result.seats[0] == pytest.approx(-result.seats[1])
    doc = result.to_json()
    chances = [s["win_chance"] for s in doc["seats"]]
    assert all(0.0 <= c <= 1.0 for c in chances)
    assert chances[0] + chances[1] == pytest.approx(1.0, abs=1e-3)


def test_two_player_win_chances_are_the_fitted_model_probabilities() -> None:
    """With shipped weights the seats' win chances are the learned model's probabilities
    (sigmoid of w . (x_seat - x_rival)) at the end of the expected line; the hand-written
    evaluation can still be asked for."""
    assert isinstance(ANALYSIS_EVALUATION, LearnedEvaluation)
    state = played("hex8", 2, 30, seed=5)
    fitted = shipped_evaluator("hex8", 2)
    assert fitted is not None
    one_ply = analyze(state, 4, top=1, node_limit=10**9)
    leaf = apply_move(state, one_ply.top_moves[0].move)
    doc = one_ply.to_json()
    for seat in doc["seats"]:
        logit = fitted.evaluate(leaf, seat["player"]) / VALUE_SCALE
        assert seat["win_chance"] == pytest.approx(sigmoid(logit), abs=1e-4)
    hand = analyze(state, 4, top=1, node_limit=10**9, evaluator=evaluate)
    hand_leaf = apply_move(state, hand.top_moves[0].move)
    assert hand.seats == tuple(evaluate(hand_leaf, q) for q in (1, 2))
    assert win_probability(hand.seats[0]) + win_probability(hand.seats[1]) == pytest.approx(1)


def test_finished_game_has_values_and_no_moves() -> None:
    state = played("square8", 2, 10_000, seed=1)
    assert state.game_status != "active"
    doc = analyze(state, 3).to_json()
    assert doc["best_move"] is None and doc["top_moves"] == []
    by_seat = {s["player"]: s for s in doc["seats"]}
    if state.winner:
        assert by_seat[state.winner]["win_chance"] == 1.0
        assert by_seat[state.winner]["evaluation"] == WIN_SCORE


def test_a_tiny_budget_still_answers_with_a_legal_move() -> None:
    state = played("hexagonal", 2, 4)
    result = analyze(state, 1, budget_s=1e-6)
    assert result.best_move in legal_moves(state)
    assert result.depth == 0 and not result.complete


def test_bad_arguments() -> None:
    state = new_game("square8", 2)
    with pytest.raises(ValueError):
        analyze(state, 11)
    with pytest.raises(ValueError):
        analyze(state, 3, top=MAX_TOP + 1)
    with pytest.raises(TypeError):
        analyze({}, 3)  # type: ignore[arg-type]
