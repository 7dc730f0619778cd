"""The ladder: every level plays legal moves everywhere, deterministically and on budget."""

from __future__ import annotations

import random
import time
from functools import cache

import pytest

from ringrift.ai import (
    BUDGET_SCALE_ENV,
    LADDER,
    AIDecision,
    best_move,
    budget_scale,
    choose_move,
    level_budget,
)
from ringrift.rules import GameState, apply_move, legal_moves, new_game

BOARDS = ("square8", "hex8", "square19", "hexagonal")
PLAYER_COUNTS = (2, 3, 4)


@cache
def midgame(board: str, players: int, plies: int = 50, seed: int = 11) -> GameState:
    """A position reached by seeded random play where the side to move has a real choice."""
    rng = random.Random(seed)
    state = new_game(board, players)
    for _ in range(plies):
        moves = legal_moves(state)
        nxt = apply_move(state, rng.choice(moves))
        if nxt.game_status != "active":
            break
        state = nxt
    while len(legal_moves(state)) == 1:
        state = apply_move(state, legal_moves(state)[0])
    assert state.game_status == "active"
    return state


def is_legal(state: GameState, decision: AIDecision) -> bool:
    ident = decision.move.identity()
    return any(m.identity() == ident for m in legal_moves(state))


@pytest.mark.parametrize("players", PLAYER_COUNTS)
@pytest.mark.parametrize("board", BOARDS)
def test_every_level_plays_a_legal_move(board: str, players: int) -> None:
    state = midgame(board, players)
    before = state.state_hash()
    for level in range(1, 11):
        decision = choose_move(state, level, seed=level, budget_scale=0.004)
        assert decision.level == level
        assert is_legal(state, decision), (board, players, level, decision.move)
        apply_move(state, decision.move)  # raises if illegal
    assert state.state_hash() == before, "choosing a move must not change the state"


@pytest.mark.parametrize("level", range(1, 11))
def test_forced_move_returns_at_once(level: int) -> None:
    state = new_game("square8", 2)
    rng = random.Random(3)
    while len(legal_moves(state)) != 1:
        state = apply_move(state, rng.choice(legal_moves(state)))
    started = time.perf_counter()
    decision = choose_move(state, level, seed=1, budget_s=5.0)
    assert time.perf_counter() - started < 0.5  # a 5 s budget: any search at all would show
    assert decision.move == legal_moves(state)[0]


@pytest.mark.parametrize("level", range(1, 11))
@pytest.mark.parametrize(("board", "players"), [("square8", 2), ("hex8", 3), ("square8", 4)])
def test_same_seed_and_node_limit_give_the_same_move(level: int, board: str, players: int) -> None:
    state = midgame(board, players, plies=40, seed=level)
    first = choose_move(state, level, seed=99, node_limit=150)
    second = choose_move(state, level, seed=99, node_limit=150)
    assert first.move == second.move
    assert first.evaluation == second.evaluation
    assert first.nodes == second.nodes


def test_random_level_depends_on_the_seed() -> None:
    state = midgame("square8", 2)
    chosen = {choose_move(state, 1, seed=s).move for s in range(20)}
    assert len(chosen) > 1


@pytest.mark.parametrize(
    ("level", "budget"), [(3, 0.04), (5, 0.08), (6, 0.08), (8, 0.08), (10, 0.1)]
)
def test_budget_is_kept_at_p95(level: int, budget: float) -> None:
    def p95() -> tuple[float, list[float]]:
        times = []
        for i, (board, players) in enumerate(
            [("square8", 2), ("square8", 3), ("hex8", 2), ("square19", 2), ("hexagonal", 3)] * 2
        ):
            state = midgame(board, players, plies=30 + 7 * i, seed=i)
            started = time.perf_counter()
            decision = choose_move(state, level, seed=i, budget_s=budget)
            times.append(time.perf_counter() - started)
            assert is_legal(state, decision)
        times.sort()
        return times[int(0.95 * (len(times) - 1))], times

    # The machine is shared with other test suites: a second measurement filters out a burst
    # of load; a search that ignores its budget fails both.
    first, times = p95()
    if first > 1.1 * budget:
        second, times = p95()
        assert second <= 1.1 * budget, times


def test_bad_arguments_are_rejected() -> None:
    state = midgame("square8", 2)
    for level in (0, 11, -1):
        with pytest.raises(ValueError, match="level"):
            choose_move(state, level)
    for level in ("5", 5.0, True):
        with pytest.raises(ValueError, match="level"):
            choose_move(state, level)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget"):
        choose_move(state, 4, budget_s=-1.0)
    with pytest.raises(ValueError, match="budget"):
        choose_move(state, 4, budget_scale=0.0)
    with pytest.raises(ValueError, match="node_limit"):
        choose_move(state, 4, node_limit=0)
    with pytest.raises(TypeError):
        choose_move({"not": "a state"}, 4)  # type: ignore[arg-type]


def test_finished_game_is_rejected() -> None:
    rng = random.Random(1)
    state = new_game("square8", 2)
    while state.game_status == "active":
        state = apply_move(state, rng.choice(legal_moves(state)))
    with pytest.raises(ValueError, match="over"):
        choose_move(state, 5)


def test_budgets_follow_the_ladder_and_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BUDGET_SCALE_ENV, raising=False)
    assert level_budget(1) <= 0.2 and level_budget(2) <= 0.2
    assert 4.0 <= level_budget(10) <= 6.0
    budgets = [level_budget(k) for k in range(1, 11)]
    assert budgets == sorted(budgets)
    monkeypatch.setenv(BUDGET_SCALE_ENV, "0.5")
    assert level_budget(10) == pytest.approx(LADDER[10].budget_s * 0.5)
    assert level_budget(10, 0.1) == pytest.approx(LADDER[10].budget_s * 0.1)
    monkeypatch.setenv(BUDGET_SCALE_ENV, "fast")
    with pytest.raises(ValueError, match=BUDGET_SCALE_ENV):
        budget_scale()
    monkeypatch.setenv(BUDGET_SCALE_ENV, "-2")
    with pytest.raises(ValueError, match="positive"):
        budget_scale()


def test_ladder_families() -> None:
    kinds = [LADDER[k].kind for k in range(1, 11)]
    assert kinds == ["random"] + ["heuristic"] * 3 + ["alphabeta"] * 6
    # The top levels run the same search and differ only by think time: each doubles it.
    for level in range(8, 11):
        assert LADDER[level].budget_s == pytest.approx(2 * LADDER[level - 1].budget_s)


def test_plain_move_accessor() -> None:
    state = midgame("hex8", 2)
    move = best_move(state, 3, seed=4)
    assert move == choose_move(state, 3, seed=4).move
    decision = choose_move(state, 2, seed=4)
    data = decision.to_json()
    assert data["move"] == decision.move.to_json()
    assert data["level"] == 2
