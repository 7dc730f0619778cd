"""Shared pieces of the AI players: decisions, search limits and cheap move ordering."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ringrift.rules import GameState, Move, legal_moves


@dataclass(frozen=True)
class AIDecision:
    """What an AI player chose, with its own evaluation (from the mover's point of view),
    the wall-clock time it spent and the ladder level that produced it (0 outside the ladder).
    ``depth``: the deepest search the choice rests on, in plies (alpha-beta: its last
    completed iteration; a one-ply player: 1; a random or forced move: 0)."""

    move: Move
    evaluation: float
    thinking_time_ms: float
    level: int
    nodes: int = 0
    depth: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "move": self.move.to_json(),
            "evaluation": self.evaluation,
            "thinking_time_ms": self.thinking_time_ms,
            "level": self.level,
            "nodes": self.nodes,
        }


Game = tuple[str, int]
"""A kind of game: (board type, number of players)."""


def rank_score(rank: int | None, players: int) -> float:
    """A seat's score for finishing ``rank`` of ``players``: 1 for first, 0 for last, linear
    between, so ``(players - rank) / (players - 1)``. A game without ranks (stopped at the move
    cap) scores 0.5. Arenas score matches this way and training fits it as the target."""
    if rank is None:
        return 0.5
    return (players - rank) / (players - 1)


@dataclass(frozen=True)
class PerGame:
    """A number that may differ per game: ``default`` in every game that ``overrides`` does not
    list. The ladder tunes a level this way where one game needs a different handicap.

    Every value must lie in [``low``, ``high``] (NaN never does); the error names the setting
    (``name``) and, for an override, the game."""

    name: str
    default: float
    overrides: Mapping[Game, float] = field(default_factory=dict)
    low: float = 0.0
    high: float = math.inf

    def __post_init__(self) -> None:
        span = (
            f">= {self.low:g}" if self.high == math.inf else f"within [{self.low:g}, {self.high:g}]"
        )
        for game, value in [(None, self.default), *self.overrides.items()]:
            if not self.low <= value <= self.high:
                where = "" if game is None else f" for {game[0]} {game[1]}p"
                raise ValueError(f"{self.name}{where} must be {span}, got {value}")

    def for_state(self, state: GameState) -> float:
        """The value in the game of ``state``."""
        return self.overrides.get((state.board_type, state.num_players), self.default)

    def list_overrides(self, show: Callable[[float], str]) -> str:
        """The overrides for a description, each value written by ``show``: "0.1 in square8
        3-player games, 0.2 in hex8 2-player games"; empty without overrides."""
        each = (
            f"{show(v)} in {board} {n}-player games" for (board, n), v in self.overrides.items()
        )
        return ", ".join(each)

    def describe_overrides(self, show: Callable[[float], str]) -> str:
        """The overrides as a parenthesis after the default: " (0.1 in square8 3-player
        games)"; empty without overrides."""
        listed = self.list_overrides(show)
        return f" ({listed})" if listed else ""


class SearchTimeout(Exception):
    """Raised inside a search when its time or node budget is spent."""


class Limits:
    """A search budget: wall-clock seconds and/or a node count.

    With a node limit and no time budget the search is fully deterministic for a seed; with
    a time budget the search stops at ``deadline`` (checked at every node)."""

    __slots__ = ("deadline", "node_limit", "nodes", "started")

    def __init__(self, budget_s: float | None, node_limit: int | None) -> None:
        if budget_s is not None and (not math.isfinite(budget_s) or budget_s <= 0):
            raise ValueError(f"budget_s must be a positive number of seconds, got {budget_s!r}")
        if node_limit is not None and node_limit < 1:
            raise ValueError(f"node_limit must be at least 1, got {node_limit!r}")
        self.started = time.perf_counter()
        # Leave a small margin for returning the answer.
        self.deadline = math.inf if budget_s is None else self.started + budget_s * 0.9
        self.node_limit = node_limit if node_limit is not None else 1 << 62
        self.nodes = 0

    def tick(self) -> None:
        """Count one node; raise SearchTimeout when a limit is reached."""
        self.nodes += 1
        if self.nodes >= self.node_limit or time.perf_counter() >= self.deadline:
            raise SearchTimeout

    def exhausted(self) -> bool:
        return self.nodes >= self.node_limit or time.perf_counter() >= self.deadline

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


class Player(Protocol):
    """Anything that can pick a move for the side to move."""

    name: str

    def decide(
        self, state: GameState, *, seed: int | None, budget_s: float | None, node_limit: int | None
    ) -> AIDecision: ...


_TYPE_PRIORITY = {
    "overtaking_capture": 60,
    "continue_capture_segment": 60,
    "process_line": 50,
    "choose_line_option": 48,
    "choose_territory_option": 40,
    "recovery_slide": 35,
    "move_stack": 20,
    "place_ring": 15,
    "eliminate_rings_from_stack": 10,
    "forced_elimination": 10,
    "swap_sides": 5,
}


def candidate_moves(state: GameState) -> list[Move]:
    """The moves a player chooses from; a finished game has none, which is an error here."""
    moves = legal_moves(state)
    if not moves:
        raise ValueError("the game is over: there is no move to choose")
    return moves


def forced_decision(move: Move, limits: Limits, level: int) -> AIDecision:
    """The answer when only one move exists: no search, no evaluation."""
    return AIDecision(move, 0.0, limits.elapsed_ms(), level, 0)


def move_priority(state: GameState, move: Move) -> float:
    """A cheap static guess of how promising a move is (higher first)."""
    base = float(_TYPE_PRIORITY.get(move.type, 0))
    if move.capture_target is not None:
        cell = state.geo.index.get(move.capture_target)
        if cell is not None:
            base += 2.0 * state.caps[cell]
    elif move.type == "place_ring":
        # Prefer building on own stacks and small counts off-stack.
        if move.placed_on_stack:
            base += 1.0
    elif move.type in ("eliminate_rings_from_stack", "forced_elimination") and move.to is not None:
        cell = state.geo.index.get(move.to)
        if cell is not None:
            base -= state.caps[cell]  # give up as little as possible
    return base


def ordered_moves(state: GameState, moves: list[Move], rng: random.Random) -> list[Move]:
    """Moves shuffled by the seed, then stably sorted by static priority."""
    shuffled = list(moves)
    rng.shuffle(shuffled)
    shuffled.sort(key=lambda m: move_priority(state, m), reverse=True)
    return shuffled


def position_key(s: GameState) -> tuple[Any, ...]:
    """A cheap exact key for transposition tables: everything that decides the future."""
    return (
        tuple(s.stacks),
        tuple(s.markers),
        tuple(s.collapsed),
        tuple(s.hand),
        tuple(s.eliminated),
        s.current_player,
        s.current_phase,
        s.must_move,
        s.chain_pos,
        s.pending_line_reward,
        s.pending_region,
        s.lps_first,
        s.lps_streak,
        s.turn_changed,
        s.lps_holder,
        s.lps_mask,
        s.turn_recovery,
    )
