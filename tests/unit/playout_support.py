"""Positions for the AI tests: seeded random playouts (pure code, no servers)."""

from __future__ import annotations

import random

from ringrift.rules import GameState, apply_move, legal_moves, new_game


def played(board: str, players: int, plies: int, seed: int = 3) -> GameState:
    """The position after up to ``plies`` uniformly random moves from a new game (fewer when
    the game ends first), the same for the same arguments."""
    rng = random.Random(seed)
    s = new_game(board, players)
    for _ in range(plies):
        if s.game_status != "active":
            break
        s = apply_move(s, rng.choice(legal_moves(s)))
    return s
