"""Board queries shared by move generation, application and victory: reach, lines, territory.

These functions read a ``GameState`` and never change it. Each states the rule it implements.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from ringrift.rules.state import GameState


def can_reach(s: GameState, cell: int, height: int, cap: int) -> bool:
    """R090/R101 movability probe: would a stack of this height and cap at ``cell`` have a
    non-capture move or an overtaking capture? A stack at distance ``height`` blocks (F-01)."""
    stacks, caps, collapsed = s.stacks, s.caps, s.collapsed
    for ray in s.geo.rays[cell]:
        for d, c in enumerate(ray, 1):
            if collapsed[c]:
                break
            if stacks[c] is not None:
                if caps[c] <= cap:
                    # Capture: any landing beyond the target, up to the next obstacle.
                    d2 = d
                    for c2 in ray[d:]:
                        d2 += 1
                        if collapsed[c2] or stacks[c2] is not None:
                            break
                        if d2 >= height:
                            return True
                break
            if d >= height:
                return True
    return False


def stack_moves(s: GameState, cell: int) -> Iterator[tuple[int, int]]:
    """R090-R092: non-capture moves of the stack at ``cell`` as (from, to) pairs: any distance
    >= height along a ray, over empty cells and markers, stopping before a stack or collapse."""
    height = len(s.stacks[cell])  # type: ignore[arg-type]
    stacks, collapsed = s.stacks, s.collapsed
    for ray in s.geo.rays[cell]:
        for d, c in enumerate(ray, 1):
            if collapsed[c] or stacks[c] is not None:
                break
            if d >= height:
                yield cell, c


def stack_captures(s: GameState, cell: int) -> Iterator[tuple[int, int, int]]:
    """R100-R101: overtaking captures of the stack at ``cell`` as (from, target, landing).

    The target is the first stack on the ray (any owner) with cap height <= the attacker's;
    any landing beyond it up to the next stack, collapsed cell or edge counts, provided the
    total distance is at least the attacker's full height."""
    stack = s.stacks[cell]
    if stack is None:
        return
    height, cap = len(stack), s.caps[cell]
    stacks, caps, collapsed = s.stacks, s.caps, s.collapsed
    for ray in s.geo.rays[cell]:
        for d, c in enumerate(ray, 1):
            if collapsed[c]:
                break
            if stacks[c] is not None:
                if caps[c] <= cap:
                    d2 = d
                    for c2 in ray[d:]:
                        d2 += 1
                        if collapsed[c2] or stacks[c2] is not None:
                            break
                        if d2 >= height:
                            yield cell, c, c2
                break


def has_capture(s: GameState, cell: int) -> bool:
    return next(stack_captures(s, cell), None) is not None


def path_between(s: GameState, src: int, dst: int) -> tuple[int, ...] | None:
    """The cells strictly between two cells on one ray, or None when they share no ray."""
    for ray in s.geo.rays[src]:
        if dst in ray:
            return ray[: ray.index(dst)]
    return None


def controlled_cells(s: GameState, player: int) -> list[int]:
    return [c for c, st in enumerate(s.stacks) if st is not None and st[0] == player]


def controls_any(s: GameState, player: int) -> bool:
    return any(st is not None and st[0] == player for st in s.stacks)


def has_buried_ring(stack: tuple[int, ...], player: int) -> bool:
    """True when the player owns a ring below the top of this stack."""
    return player in stack[1:]


def recovery_eligible(s: GameState, player: int) -> bool:
    """R110: no controlled stack, at least one own marker, at least one own buried ring."""
    if player not in s.markers:
        return False
    found_buried = False
    for st in s.stacks:
        if st is None:
            continue
        if st[0] == player:
            return False
        if not found_buried and player in st:
            found_buried = True
    return found_buried


def placement_limit(s: GameState, player: int) -> int:
    """R081/F-03: rings one placement on an empty cell may use (hand, 3 and the supply cap)."""
    return min(3, s.hand[player], s.rings_per_player - s.on_board[player])


def clear_run_mask(s: GameState, length: int) -> int:
    """Bitboard of cells with ``length`` free cells (no stack, not collapsed) in a row along
    some movement ray: a stack of height <= ``length`` placed there can move (R090). One
    padding column in the layout stops a ray from wrapping onto another row."""
    geo = s.geo
    bits = geo.bits
    blocked = 0
    stacks, collapsed = s.stacks, s.collapsed
    for cell, st in enumerate(stacks):
        if st is not None or collapsed[cell]:
            blocked |= 1 << bits[cell]
    free = geo.valid_mask & ~blocked
    result = 0
    for offset in geo.move_offsets:
        run = free
        for step in range(1, length + 1):
            shift = offset * step
            run &= free >> shift if shift > 0 else free << -shift
        result |= run
    return result


def live_counts(s: GameState, cell: int, player: int, limit: int) -> list[int]:
    """R080-R082 no-dead-placement: the ring counts (1..limit) whose resulting stack at ``cell``
    could move or capture. An existing stack takes exactly one ring."""
    stack = s.stacks[cell]
    if stack is not None:
        cap = s.caps[cell] + 1 if stack[0] == player else 1
        return [1] if can_reach(s, cell, len(stack) + 1, cap) else []
    # Cheap common case first: a free run of `limit` cells makes every count movable.
    stacks, collapsed = s.stacks, s.collapsed
    best = 0
    for ray in s.geo.rays[cell]:
        run = 0
        for c in ray:
            if collapsed[c] or stacks[c] is not None:
                break
            run += 1
            if run >= limit:
                return list(range(1, limit + 1))
        if run > best:
            best = run
    return [k for k in range(1, limit + 1) if k <= best or can_reach(s, cell, k, k)]


def has_any_placement(s: GameState, player: int) -> bool:
    """Whether the player has at least one legal ring placement (any cell, any count)."""
    limit = placement_limit(s, player)
    if limit <= 0:
        return False
    stacks, markers, collapsed = s.stacks, s.markers, s.collapsed
    for cell in range(s.geo.num_cells):
        if collapsed[cell] or markers[cell]:
            continue
        st = stacks[cell]
        if st is None:
            if live_counts(s, cell, player, limit):
                return True
        else:
            cap = s.caps[cell] + 1 if st[0] == player else 1
            if can_reach(s, cell, len(st) + 1, cap):
                return True
    return False


def has_real_action(s: GameState, player: int) -> bool:
    """R172: a placement, a non-capture move or a capture, ignoring phase and must-move."""
    caps = s.caps
    for cell, st in enumerate(s.stacks):
        if st is not None and st[0] == player and can_reach(s, cell, len(st), caps[cell]):
            return True
    return s.hand[player] > 0 and has_any_placement(s, player)


# -- lines (R120-R123) -----------------------------------------------------------------------


def find_lines(s: GameState, player: int) -> list[tuple[int, ...]]:
    """R120: maximal runs of >= L markers of ``player`` along a line axis, each listed once,
    ordered from the end reached by stepping backwards along the axis."""
    markers = s.markers
    length = s.line_len
    axes = s.geo.line_axes
    lines: list[tuple[int, ...]] = []
    for cell, m in enumerate(markers):
        if m != player:
            continue
        for fwd, back in axes[cell]:
            # Only start a run at its backward end, so each line is found exactly once.
            if back and markers[back[0]] == player:
                continue
            run = [cell]
            for c in fwd:
                if markers[c] != player:
                    break
                run.append(c)
            if len(run) >= length:
                lines.append(tuple(run))
    return lines


def line_through(s: GameState, player: int, cell: int, markers: list[int]) -> tuple[int, ...]:
    """R112: the first line axis (in axis order) on which ``cell`` is part of a run of >= L
    markers of ``player`` on the given marker layer; empty when there is none."""
    length = s.line_len
    for fwd, back in s.geo.line_axes[cell]:
        before = []
        for c in back:
            if markers[c] != player:
                break
            before.append(c)
        after = []
        for c in fwd:
            if markers[c] != player:
                break
            after.append(c)
        if len(before) + 1 + len(after) >= length:
            before.reverse()
            return (*before, cell, *after)
    return ()


# -- territory (R140-R145; the TS algorithm of docs/rules.md §11 / F-13) -------------------------


def _grow(comp: int, passable: int, shifts: tuple[int, ...]) -> int:
    """Flood-fill a bitboard component to its fixpoint within ``passable``."""
    while True:
        grown = comp
        for k in shifts:
            grown |= (comp << k) | (comp >> k)
        grown &= passable
        if grown == comp:
            return comp
        comp = grown


@functools.lru_cache(maxsize=4096)
def _components(passable: int, shifts: tuple[int, ...]) -> tuple[int, ...]:
    """The connected components of a bitboard, lowest bit first. Memoised: they depend on
    markers and collapsed cells only, which most moves (every placement) leave alone, so a
    search meets the same layouts again and again."""
    out = []
    rest = passable
    while rest:
        comp = _grow(rest & -rest, passable, shifts)
        rest &= ~comp
        out.append(comp)
    return tuple(out)


def _cells_of(mask: int, bit_cell: dict[int, int]) -> tuple[int, ...]:
    cells = []
    while mask:
        low = mask & -mask
        cells.append(bit_cell[low.bit_length() - 1])
        mask ^= low
    return tuple(sorted(cells))


def find_regions(s: GameState) -> list[tuple[int, ...]]:
    """R141/R142: disconnected regions, de-duplicated by cell set, in discovery order (the
    cells of `region_masks`)."""
    bit_cell = s.geo.bit_cell
    return [_cells_of(mask, bit_cell) for mask in region_masks(s).regions]


@dataclass(frozen=True)
class RegionMasks:
    """`region_masks`' answer: the disconnected regions as bitboards (bit ``geo.bits[c]`` for
    cell ``c``) and, per player, the bitboard of the stacks it controls (index 0 unused)."""

    regions: tuple[int, ...]
    control: tuple[int, ...]


def region_masks(s: GameState) -> RegionMasks:
    """R141/R142: disconnected regions as bitboards, de-duplicated, in discovery order.

    Pass A, once per marker colour B present: components of the cells that are neither
    collapsed nor B-markers; a component is disconnected when fewer players control stacks in
    it than there are active colours (players with any ring on the board, buried included).
    Pass B: components of all non-collapsed cells that hold stacks of exactly one player, when
    that is fewer than the active colours. Components are bitboards (territory adjacency is a
    set of shifts), equivalent to a cell-by-cell flood fill from each cell in scan order."""
    stacks = s.stacks
    geo = s.geo
    bits = geo.bits
    n = s.num_players
    control = [0] * (n + 1)
    marker_masks = [0] * (n + 1)
    collapsed_mask = 0
    any_stack = False
    markers, collapsed = s.markers, s.collapsed
    for cell, st in enumerate(stacks):
        if st is not None:
            control[st[0]] |= 1 << bits[cell]
            any_stack = True
        elif markers[cell]:
            marker_masks[markers[cell]] |= 1 << bits[cell]
        elif collapsed[cell]:
            collapsed_mask |= 1 << bits[cell]
    if not any_stack:
        return RegionMasks((), tuple(control))
    active = sum(1 for p in range(1, n + 1) if s.on_board[p] > 0)
    shifts = geo.territory_shifts
    open_cells = geo.valid_mask & ~collapsed_mask
    found: dict[int, None] = {}  # insertion-ordered set

    def colours(comp: int) -> int:
        return sum(1 for p in range(1, n + 1) if comp & control[p])

    for colour in range(1, n + 1):
        if marker_masks[colour]:
            for comp in _components(open_cells & ~marker_masks[colour], shifts):
                if colours(comp) < active:
                    found[comp] = None
    for comp in _components(open_cells, shifts):
        if 1 == colours(comp) < active:
            found[comp] = None
    return RegionMasks(tuple(found), tuple(control))


def border_markers(s: GameState, region: tuple[int, ...]) -> list[int]:
    """R145: markers of any colour territory-adjacent to the region, then (except on
    ``hexagonal``) every marker reached from those by Moore steps, never entering the region."""
    inside = set(region)
    markers = s.markers
    geo = s.geo
    seeds: list[int] = []
    seen: set[int] = set()
    for c in region:
        for nb in geo.territory_neighbours[c]:
            if nb not in inside and nb not in seen and markers[nb]:
                seen.add(nb)
                seeds.append(nb)
    frontier = list(seeds)
    while frontier:
        c = frontier.pop()
        for nb in geo.border_neighbours[c]:
            if nb not in inside and nb not in seen and markers[nb]:
                seen.add(nb)
                seeds.append(nb)
                frontier.append(nb)
    return sorted(seeds)
