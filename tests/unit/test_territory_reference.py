"""The bitboard territory detection finds exactly the regions of the straightforward
cell-by-cell algorithm of docs/rules.md §11 (TS territoryDetection), on positions from play."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ringrift.rules import GameState, apply_move, legal_moves, new_game
from ringrift.rules.board import find_regions


def reference_regions(s: GameState) -> set[frozenset[int]]:
    """Pass A per marker colour, then pass B, with plain flood fills over cell indices."""
    stacks, markers, collapsed = s.stacks, s.markers, s.collapsed
    if all(x is None for x in stacks):
        return set()
    nbrs = s.geo.territory_neighbours
    active = {r for x in stacks if x for r in x}

    def components(blocked: list[bool]) -> list[list[int]]:
        seen = list(blocked)
        out = []
        for start in range(len(seen)):
            if seen[start]:
                continue
            seen[start] = True
            comp, todo = [start], [start]
            while todo:
                c = todo.pop()
                for nb in nbrs[c]:
                    if not seen[nb]:
                        seen[nb] = True
                        comp.append(nb)
                        todo.append(nb)
            out.append(comp)
        return out

    def colours(comp: list[int]) -> set[int]:
        return {stacks[c][0] for c in comp if stacks[c] is not None}  # type: ignore[index]

    found: set[frozenset[int]] = set()
    for colour in sorted({m for m in markers if m}):
        blocked = [bool(collapsed[c]) or markers[c] == colour for c in range(len(markers))]
        for comp in components(blocked):
            if len(colours(comp)) < len(active):
                found.add(frozenset(comp))
    for comp in components([bool(c) for c in collapsed]):
        if len(colours(comp)) == 1 and len(active) > 1:
            found.add(frozenset(comp))
    return found


@settings(max_examples=40, deadline=None)
@given(
    board=st.sampled_from(["square8", "hex8", "square19", "hexagonal"]),
    players=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_bitboard_regions_match_reference(board: str, players: int, seed: int) -> None:
    rng = random.Random(seed)
    s = new_game(board, players)
    plies = 0
    limit = 300 if board in ("square8", "hex8") else 500
    while s.game_status == "active" and plies < limit:
        if plies % 3 == 0:
            fast = find_regions(s)
            assert len(fast) == len(set(map(frozenset, fast))), "regions must be de-duplicated"
            assert set(map(frozenset, fast)) == reference_regions(s)
        s = apply_move(s, rng.choice(legal_moves(s)))
        plies += 1
