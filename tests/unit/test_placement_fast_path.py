"""The bitboard shortcut for placements lists exactly what the cell-by-cell probe lists."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ringrift.rules import GameState, apply_move, legal_moves, new_game
from ringrift.rules import board as B


def reference_placements(s: GameState) -> set[tuple[tuple[int, ...], int]]:
    """R080-R082 by the plain probe: every live (cell, count) of the player to move."""
    p = s.current_player
    limit = B.placement_limit(s, p)
    out = set()
    for cell in range(s.geo.num_cells):
        if s.collapsed[cell] or s.markers[cell]:
            continue
        st_ = s.stacks[cell]
        if st_ is None and limit > 0:
            out |= {(s.geo.coords[cell], k) for k in B.live_counts(s, cell, p, limit)}
        elif st_ is not None and limit > 0:
            cap = s.caps[cell] + 1 if st_[0] == p else 1
            if B.can_reach(s, cell, len(st_) + 1, cap):
                out.add((s.geo.coords[cell], 1))
    return out


@settings(max_examples=30, deadline=None)
@given(
    board=st.sampled_from(["square8", "hex8", "square19", "hexagonal"]),
    players=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_fast_placements_match_reference(board: str, players: int, seed: int) -> None:
    rng = random.Random(seed)
    s = new_game(board, players)
    for _ in range(400):
        if s.game_status != "active":
            break
        moves = legal_moves(s)
        if s.current_phase == "ring_placement" and s.hand[s.current_player] > 0:
            fast = {(m.to, m.placement_count) for m in moves if m.type == "place_ring"}
            assert fast == reference_placements(s)
        s = apply_move(s, rng.choice(moves))
