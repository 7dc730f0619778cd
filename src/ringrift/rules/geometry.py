"""Board geometry: cells, rays and adjacency tables, computed once per board shape.

Every board is a list of cells numbered 0..n-1 in *scan order* (square: row by row; hex: by x,
then y). All rule code works on these indices; coordinates appear only at the wire-format edge.
The tables here are what keeps move generation free of per-move geometry work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

Coord = tuple[int, ...]
"""A cell coordinate: ``(x, y)`` on square boards, ``(x, y, z)`` with x+y+z=0 on hex boards."""

BOARD_TYPES = ("square8", "square19", "hex8", "hexagonal")

# R001/R002: default size and ring supply per board.
DEFAULT_SIZE = {"square8": 8, "square19": 19, "hex8": 9, "hexagonal": 25}
RINGS_PER_PLAYER = {"square8": 18, "square19": 72, "hex8": 18, "hexagonal": 96}

_SQUARE_MOVE_DIRS: tuple[Coord, ...] = (
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
)
_HEX_MOVE_DIRS: tuple[Coord, ...] = (
    (1, 0, -1),
    (0, 1, -1),
    (-1, 1, 0),
    (-1, 0, 1),
    (0, -1, 1),
    (1, -1, 0),
)
# R120: line axes, each scanned in both directions (E, SE, S, NE on square boards).
_SQUARE_LINE_AXES: tuple[Coord, ...] = ((1, 0), (1, 1), (0, 1), (1, -1))
_HEX_LINE_AXES: tuple[Coord, ...] = ((1, 0, -1), (1, -1, 0), (0, -1, 1))
# R140: territory connectivity is Von Neumann on square boards and the 6 hex neighbours on hex.
_SQUARE_TERRITORY_DIRS: tuple[Coord, ...] = ((1, 0), (-1, 0), (0, 1), (0, -1))
# Border-marker expansion on hex8 uses the 2-D Moore offsets on (x, y) (docs/rules.md §2).
_MOORE_2D: tuple[tuple[int, int], ...] = tuple(
    (dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)
)


def _add(a: Coord, b: Coord) -> Coord:
    return tuple(p + q for p, q in zip(a, b, strict=True))


@dataclass(frozen=True, slots=True, eq=False)
class Geometry:
    """Precomputed tables for one board shape.

    ``rays[c]`` holds, per movement direction, the cells stepped through from ``c`` to the edge
    (empty directions omitted). ``line_axes[c]`` holds, per line axis, the forward and backward
    rays. ``territory_neighbours`` drives flood fills (R140) and ``border_neighbours`` the
    border-marker expansion (R145; empty on ``hexagonal``).
    """

    board_type: str
    size: int
    is_hex: bool
    radius: int
    coords: tuple[Coord, ...]
    index: dict[Coord, int]
    keys: tuple[str, ...]
    key_index: dict[str, int]
    rays: tuple[tuple[tuple[int, ...], ...], ...]
    adjacent: tuple[tuple[int, ...], ...]
    line_axes: tuple[tuple[tuple[tuple[int, ...], tuple[int, ...]], ...], ...]
    territory_neighbours: tuple[tuple[int, ...], ...]
    border_neighbours: tuple[tuple[int, ...], ...]
    bits: tuple[int, ...]
    bit_cell: dict[int, int]
    valid_mask: int
    territory_shifts: tuple[int, ...]
    move_offsets: tuple[int, ...]

    @property
    def num_cells(self) -> int:
        return len(self.coords)

    def distance(self, a: int, b: int) -> int:
        """Steps between two cells: Chebyshev on square boards, cube distance on hex."""
        ca, cb = self.coords[a], self.coords[b]
        if self.is_hex:
            return (abs(ca[0] - cb[0]) + abs(ca[1] - cb[1]) + abs(ca[2] - cb[2])) // 2
        return max(abs(ca[0] - cb[0]), abs(ca[1] - cb[1]))

    def cell_of(self, coord: Coord) -> int | None:
        """Index of a coordinate, or None when it is off the board."""
        return self.index.get(coord)

    def cell_of_key(self, key: str) -> int | None:
        """Index of a wire-format key ``"x,y"`` / ``"x,y,z"`` (hex also accepts ``"x,y"``)."""
        return self.key_index.get(key)


def _square_coords(size: int) -> list[Coord]:
    return [(x, y) for y in range(size) for x in range(size)]


def _hex_coords(radius: int) -> list[Coord]:
    out: list[Coord] = []
    for x in range(-radius, radius + 1):
        for y in range(-radius, radius + 1):
            z = -x - y
            if abs(z) <= radius:
                out.append((x, y, z))
    return out


def _ray(index: dict[Coord, int], start: Coord, step: Coord) -> tuple[int, ...]:
    cells: list[int] = []
    pos = _add(start, step)
    while pos in index:
        cells.append(index[pos])
        pos = _add(pos, step)
    return tuple(cells)


@cache
def geometry(board_type: str, size: int | None = None) -> Geometry:
    """The geometry of a board. A hex radius comes from ``size``: (size-1)/2 (docs/rules.md §2)."""
    if board_type not in BOARD_TYPES:
        raise ValueError(f"unknown board type {board_type!r}; expected one of {BOARD_TYPES}")
    if size is None:
        size = DEFAULT_SIZE[board_type]
    if not isinstance(size, int) or isinstance(size, bool) or size < 2 or size > 64:
        raise ValueError(f"invalid board size {size!r}")
    is_hex = board_type in ("hex8", "hexagonal")
    if is_hex:
        if size % 2 == 0:
            raise ValueError(f"hex board size must be odd, got {size}")
        radius = (size - 1) // 2
        coords = _hex_coords(radius)
        move_dirs, axes, terr_dirs = _HEX_MOVE_DIRS, _HEX_LINE_AXES, _HEX_MOVE_DIRS
    else:
        radius = 0
        coords = _square_coords(size)
        move_dirs, axes, terr_dirs = _SQUARE_MOVE_DIRS, _SQUARE_LINE_AXES, _SQUARE_TERRITORY_DIRS
    index = {c: i for i, c in enumerate(coords)}
    keys = tuple(",".join(str(v) for v in c) for c in coords)
    key_index = {k: i for i, k in enumerate(keys)}
    if is_hex:
        # Legacy fixtures key hex cells by "x,y" only.
        for i, c in enumerate(coords):
            key_index.setdefault(f"{c[0]},{c[1]}", i)

    rays: list[tuple[tuple[int, ...], ...]] = []
    adjacent: list[tuple[int, ...]] = []
    line_axes: list[tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]] = []
    terr: list[tuple[int, ...]] = []
    border: list[tuple[int, ...]] = []
    for c in coords:
        cell_rays = tuple(r for r in (_ray(index, c, d) for d in move_dirs) if r)
        rays.append(cell_rays)
        adjacent.append(tuple(r[0] for r in cell_rays))
        line_axes.append(
            tuple((_ray(index, c, d), _ray(index, c, tuple(-v for v in d))) for d in axes)
        )
        nbrs = tuple(index[p] for p in (_add(c, d) for d in terr_dirs) if p in index)
        terr.append(nbrs)
        if board_type == "hexagonal":
            border.append(())
        elif is_hex:
            pts = ((c[0] + dx, c[1] + dy) for dx, dy in _MOORE_2D)
            border.append(tuple(index[p] for p in ((x, y, -x - y) for x, y in pts) if p in index))
        else:
            border.append(
                tuple(index[p] for p in (_add(c, d) for d in _SQUARE_MOVE_DIRS) if p in index)
            )
    # Bitboard layout for flood fills: a grid padded by one column so that shifting a set of
    # cells by a neighbour offset never wraps onto a real cell of another row.
    if is_hex:
        width = 2 * radius + 2
        bits = tuple((c[1] + radius) * width + (c[0] + radius) for c in coords)
        shifts: tuple[int, ...] = (1, width, width - 1)
    else:
        width = size + 1
        bits = tuple(c[1] * width + c[0] for c in coords)
        shifts = (1, width)
    offsets = tuple(d[0] + d[1] * width for d in move_dirs)
    valid = 0
    for b in bits:
        valid |= 1 << b
    return Geometry(
        board_type=board_type,
        size=size,
        is_hex=is_hex,
        radius=radius,
        coords=tuple(coords),
        index=index,
        keys=keys,
        key_index=key_index,
        rays=tuple(rays),
        adjacent=tuple(adjacent),
        line_axes=tuple(line_axes),
        territory_neighbours=tuple(terr),
        border_neighbours=tuple(border),
        bits=bits,
        bit_cell={b: i for i, b in enumerate(bits)},
        valid_mask=valid,
        territory_shifts=shifts,
        move_offsets=offsets,
    )


def line_length(board_type: str, num_players: int) -> int:
    """R120: 4 on square19/hexagonal; on square8/hex8, 4 with two players and 3 with 3-4."""
    if board_type in ("square8", "hex8") and num_players >= 3:
        return 3
    return 4


def victory_threshold(rings_per_player: int, num_players: int) -> int:
    """R061: rings to eliminate for a ring-elimination win, round(rpp * (2/3 + (N-1)/3))."""
    # Integer form of round(rpp * (N + 1) / 3); rpp*(N+1) is never exactly x.5*3 for real boards.
    num = rings_per_player * (num_players + 1)
    return (2 * num + 3) // 6


def territory_minimum(total_cells: int, num_players: int) -> int:
    """R062: a territory win needs at least floor(cells/N) + 1 collapsed cells."""
    return total_cells // num_players + 1


def legacy_territory_threshold(total_cells: int) -> int:
    """The pre-v2 two-player threshold floor(cells/2) + 1, still serialised in states."""
    return total_cells // 2 + 1
