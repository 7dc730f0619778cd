"""Random-playout benchmark of the rules engine (``ringrift bench rules``).

Games are seeded, so a run is reproducible; the figures measure ``legal_moves`` plus
``apply_move`` per ply, the work any search or server does per move.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass

from ringrift.rules.engine import apply_move, legal_moves, new_game
from ringrift.rules.state import ACTIVE

MAX_PLIES = 20_000


@dataclass(frozen=True, slots=True)
class BenchResult:
    board: str
    players: int
    games: int
    seconds: float
    games_per_s: float
    moves_per_s: float
    mean_moves: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def play_random_game(board: str, players: int, seed: int) -> int:
    """Play one seeded random game to its end; returns the number of moves applied."""
    rng = random.Random(seed)
    state = new_game(board, players)
    plies = 0
    while state.game_status == ACTIVE:
        moves = legal_moves(state)
        state = apply_move(state, moves[rng.randrange(len(moves))] if len(moves) > 1 else moves[0])
        plies += 1
        if plies > MAX_PLIES:
            raise RuntimeError(f"game {board}/{players}p seed {seed} did not end")
    return plies


def bench(board: str, players: int, games: int, seed: int = 0) -> BenchResult:
    start = time.perf_counter()
    total = sum(play_random_game(board, players, seed + g) for g in range(games))
    seconds = time.perf_counter() - start
    return BenchResult(
        board=board,
        players=players,
        games=games,
        seconds=round(seconds, 3),
        games_per_s=round(games / seconds, 2),
        moves_per_s=round(total / seconds, 1),
        mean_moves=round(total / games, 1),
    )
