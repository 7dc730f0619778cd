"""Elo ratings: two-player and multi-player (pairwise from final ranks).

Each player's K-factor depends on experience: 40 for the first 30 rated games, 20 after that, and
10 once the rating is 2400 or more. In a game of n players every pair counts as one mini-match
(better rank scores 1, equal ranks 0.5 each); the pair results are averaged over the n - 1
opponents so a multi-player game moves a rating about as much as one two-player game.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

INITIAL_RATING = 1500.0
PROVISIONAL_GAMES = 30
K_PROVISIONAL = 40.0
K_ESTABLISHED = 20.0
K_MASTER = 10.0
MASTER_RATING = 2400.0


def k_factor(rating: float, rated_games: int) -> float:
    if rating >= MASTER_RATING:
        return K_MASTER
    if rated_games < PROVISIONAL_GAMES:
        return K_PROVISIONAL
    return K_ESTABLISHED


def expected_score(rating: float, opponent: float) -> float:
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / 400.0))


@dataclass(frozen=True)
class Participant:
    rating: float
    rated_games: int
    rank: int  # 1 = best; equal ranks are ties


def rating_changes(players: Sequence[Participant]) -> list[float]:
    """Rating delta for each participant, in the given order."""
    n = len(players)
    if n < 2:
        raise ValueError("a rated game needs at least two players")
    for p in players:
        if p.rank < 1:
            raise ValueError("ranks start at 1")
    deltas: list[float] = []
    for i, me in enumerate(players):
        total = 0.0
        for j, other in enumerate(players):
            if i == j:
                continue
            if me.rank < other.rank:
                score = 1.0
            elif me.rank == other.rank:
                score = 0.5
            else:
                score = 0.0
            total += score - expected_score(me.rating, other.rating)
        deltas.append(k_factor(me.rating, me.rated_games) * total / (n - 1))
    return deltas


def outcome(rank: int, ranks: Sequence[int]) -> str:
    """ "win" (sole first), "draw" (shared first) or "loss"."""
    if rank != 1:
        return "loss"
    return "draw" if sum(1 for r in ranks if r == 1) > 1 else "win"
