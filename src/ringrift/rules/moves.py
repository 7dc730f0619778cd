"""Moves: immutable values in coordinates, with their wire format.

A ``Move`` names a cell by its coordinate tuple (``(x, y)`` or ``(x, y, z)``) so that it means
the same thing without a board at hand, like a UCI move in chess. Decision metadata (lines,
regions, recovery options) travels in the same value; ``identity()`` says which fields make two
moves the same choice (docs/rules.md §6), so bookkeeping placeholders never matter.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ringrift.rules.errors import WireFormatError
from ringrift.rules.geometry import Coord

PLACE_RING = "place_ring"
SKIP_PLACEMENT = "skip_placement"
NO_PLACEMENT_ACTION = "no_placement_action"
SWAP_SIDES = "swap_sides"
MOVE_STACK = "move_stack"
OVERTAKING_CAPTURE = "overtaking_capture"
CONTINUE_CAPTURE_SEGMENT = "continue_capture_segment"
SKIP_CAPTURE = "skip_capture"
NO_MOVEMENT_ACTION = "no_movement_action"
RECOVERY_SLIDE = "recovery_slide"
SKIP_RECOVERY = "skip_recovery"
PROCESS_LINE = "process_line"
CHOOSE_LINE_OPTION = "choose_line_option"
NO_LINE_ACTION = "no_line_action"
ELIMINATE_RINGS_FROM_STACK = "eliminate_rings_from_stack"
CHOOSE_TERRITORY_OPTION = "choose_territory_option"
SKIP_TERRITORY_PROCESSING = "skip_territory_processing"
NO_TERRITORY_ACTION = "no_territory_action"
FORCED_ELIMINATION = "forced_elimination"

MOVE_TYPES = frozenset(
    {
        PLACE_RING,
        SKIP_PLACEMENT,
        NO_PLACEMENT_ACTION,
        SWAP_SIDES,
        MOVE_STACK,
        OVERTAKING_CAPTURE,
        CONTINUE_CAPTURE_SEGMENT,
        SKIP_CAPTURE,
        NO_MOVEMENT_ACTION,
        RECOVERY_SLIDE,
        SKIP_RECOVERY,
        PROCESS_LINE,
        CHOOSE_LINE_OPTION,
        NO_LINE_ACTION,
        ELIMINATE_RINGS_FROM_STACK,
        CHOOSE_TERRITORY_OPTION,
        SKIP_TERRITORY_PROCESSING,
        NO_TERRITORY_ACTION,
        FORCED_ELIMINATION,
    }
)

# Replay-only aliases of the original platform (docs/rules.md §6).
LEGACY_ALIASES = {
    "move_ring": MOVE_STACK,
    "build_stack": MOVE_STACK,
    "chain_capture": CONTINUE_CAPTURE_SEGMENT,
    "choose_line_reward": CHOOSE_LINE_OPTION,
    "line_formation": PROCESS_LINE,
    "process_territory_region": CHOOSE_TERRITORY_OPTION,
    "territory_claim": CHOOSE_TERRITORY_OPTION,
}

# R075: moves that record a phase visit without changing the board (F-05 / F-06).
BOOKKEEPING_TYPES = frozenset(
    {
        NO_PLACEMENT_ACTION,
        NO_MOVEMENT_ACTION,
        NO_LINE_ACTION,
        NO_TERRITORY_ACTION,
        SKIP_PLACEMENT,
        SKIP_CAPTURE,
        SKIP_TERRITORY_PROCESSING,
        SKIP_RECOVERY,
    }
)

ELIMINATION_CONTEXTS = ("line", "territory", "forced", "recovery")
RECOVERY_MODES = ("line", "fallback", "stack_strike")


class Move(NamedTuple):
    """One move. Fields beyond ``type`` and ``player`` are used by the move types that need them.

    ``cells`` is what a decision collapses or claims: the line cells a line move collapses, the
    region of a territory choice, or the window of a recovery Option 2. ``line`` is the whole
    formed line of a line move or recovery slide.
    """

    type: str
    player: int
    to: Coord | None = None
    from_: Coord | None = None
    capture_target: Coord | None = None
    placement_count: int | None = None
    placed_on_stack: bool | None = None
    cells: tuple[Coord, ...] | None = None
    line: tuple[Coord, ...] | None = None
    elimination_context: str | None = None
    recovery_mode: str | None = None
    recovery_option: int | None = None
    extraction_stack: Coord | None = None

    def identity(self) -> tuple[Any, ...]:
        """The fields that make this move a distinct choice (docs/rules.md §6)."""
        t = self.type
        if t == PLACE_RING:
            return (t, self.to, self.placement_count or 1)
        if t == MOVE_STACK:
            return (t, self.from_, self.to)
        if t in (OVERTAKING_CAPTURE, CONTINUE_CAPTURE_SEGMENT):
            return (t, self.from_, self.capture_target, self.to)
        if t in (PROCESS_LINE, CHOOSE_LINE_OPTION):
            # A choose_line_option naming the whole line is the same move as process_line (F-10).
            return ("line", frozenset(self.cells or ()))
        if t == CHOOSE_TERRITORY_OPTION:
            return (t, frozenset(self.cells or ()))
        if t in (ELIMINATE_RINGS_FROM_STACK, FORCED_ELIMINATION):
            return (t, self.to)
        if t == RECOVERY_SLIDE:
            return (
                t,
                self.from_,
                self.to,
                self.recovery_mode,
                self.recovery_option,
                frozenset(self.cells) if self.cells else None,
                self.extraction_stack,
            )
        return (t,)

    def to_json(self) -> dict[str, Any]:
        """The wire format (camelCase, positions as ``{"x", "y"[, "z"]}``)."""
        out: dict[str, Any] = {"type": self.type, "player": self.player}
        if self.from_ is not None:
            out["from"] = position_json(self.from_)
        if self.to is not None:
            out["to"] = position_json(self.to)
        if self.capture_target is not None:
            out["captureTarget"] = position_json(self.capture_target)
        if self.placement_count is not None:
            out["placementCount"] = self.placement_count
        if self.placed_on_stack is not None:
            out["placedOnStack"] = self.placed_on_stack
        t = self.type
        if t in (PROCESS_LINE, CHOOSE_LINE_OPTION) and self.line is not None:
            out["formedLines"] = [
                {
                    "positions": [position_json(c) for c in self.line],
                    "player": self.player,
                    "length": len(self.line),
                }
            ]
            if t == CHOOSE_LINE_OPTION and self.cells is not None:
                out["collapsedMarkers"] = [position_json(c) for c in self.cells]
        if t == CHOOSE_TERRITORY_OPTION and self.cells is not None:
            out["disconnectedRegions"] = [
                {
                    "spaces": [position_json(c) for c in self.cells],
                    "controllingPlayer": self.player,
                    "isDisconnected": True,
                }
            ]
        if self.elimination_context is not None:
            out["eliminationContext"] = self.elimination_context
        if t == RECOVERY_SLIDE:
            out["recoveryMode"] = self.recovery_mode or "line"
            if self.recovery_option is not None:
                out["recoveryOption"] = self.recovery_option
            if self.cells is not None:
                out["collapsePositions"] = [position_json(c) for c in self.cells]
            if self.extraction_stack is not None:
                out["extractionStacks"] = [coord_key(self.extraction_stack)]
        return out

    @classmethod
    def from_json(cls, data: Any) -> Move:
        """Parse a wire-format move; raises ``WireFormatError`` with the offending field."""
        if not isinstance(data, dict):
            raise WireFormatError("move must be a JSON object")
        raw_type = data.get("type")
        if not isinstance(raw_type, str):
            raise WireFormatError("move.type must be a string")
        mtype = LEGACY_ALIASES.get(raw_type, raw_type)
        if mtype not in MOVE_TYPES:
            raise WireFormatError(f"unknown move type {raw_type!r}")
        player = data.get("player")
        if not isinstance(player, int) or isinstance(player, bool) or not 1 <= player <= 4:
            raise WireFormatError("move.player must be an integer 1-4")
        to = _opt_position(data, "to")
        from_ = _opt_position(data, "from")
        target = _opt_position(data, "captureTarget")
        count = data.get("placementCount")
        if count is not None and (
            not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 3
        ):
            raise WireFormatError("move.placementCount must be an integer 1-3")
        placed_on_stack = data.get("placedOnStack")
        if placed_on_stack is not None and not isinstance(placed_on_stack, bool):
            raise WireFormatError("move.placedOnStack must be a boolean")

        cells: tuple[Coord, ...] | None = None
        line: tuple[Coord, ...] | None = None
        formed = data.get("formedLines")
        if formed is not None:
            if not isinstance(formed, list):
                raise WireFormatError("move.formedLines must be a list")
            if formed:
                first = formed[0]
                if not isinstance(first, dict):
                    raise WireFormatError("move.formedLines[0] must be an object")
                line = _position_list(first.get("positions"), "formedLines[0].positions")
        if mtype == CHOOSE_LINE_OPTION:
            if data.get("collapsedMarkers") is not None:
                cells = _position_list(data["collapsedMarkers"], "collapsedMarkers")
            else:
                cells = line
        elif mtype == PROCESS_LINE:
            cells = line
        elif mtype == CHOOSE_TERRITORY_OPTION:
            regions = data.get("disconnectedRegions")
            if regions is not None:
                if not isinstance(regions, list):
                    raise WireFormatError("move.disconnectedRegions must be a list")
                if regions:
                    if not isinstance(regions[0], dict):
                        raise WireFormatError("move.disconnectedRegions[0] must be an object")
                    cells = _position_list(
                        regions[0].get("spaces"), "disconnectedRegions[0].spaces"
                    )
        elif mtype == RECOVERY_SLIDE and data.get("collapsePositions") is not None:
            cells = _position_list(data["collapsePositions"], "collapsePositions")

        context = data.get("eliminationContext")
        if context is not None and context not in ELIMINATION_CONTEXTS:
            raise WireFormatError(f"unknown eliminationContext {context!r}")
        mode = data.get("recoveryMode")
        if mode is not None and mode not in RECOVERY_MODES:
            raise WireFormatError(f"unknown recoveryMode {mode!r}")
        option = data.get("recoveryOption", data.get("option"))
        if option is not None and option not in (1, 2):
            raise WireFormatError("move.recoveryOption must be 1 or 2")
        extraction: Coord | None = None
        stacks = data.get("extractionStacks")
        if stacks is not None:
            if not isinstance(stacks, list) or not all(isinstance(k, str) for k in stacks):
                raise WireFormatError("move.extractionStacks must be a list of cell keys")
            if len(stacks) > 1:
                raise WireFormatError("move.extractionStacks names more than one stack")
            if stacks:
                extraction = parse_key(stacks[0])
        if mtype == RECOVERY_SLIDE:
            mode = mode or "line"
        else:
            mode = None
            option = None if mtype != RECOVERY_SLIDE else option
        return cls(
            type=mtype,
            player=player,
            to=to,
            from_=from_,
            capture_target=target,
            placement_count=count if mtype == PLACE_RING else None,
            placed_on_stack=placed_on_stack if mtype == PLACE_RING else None,
            cells=cells,
            line=line,
            elimination_context=context if mtype == ELIMINATE_RINGS_FROM_STACK else None,
            recovery_mode=mode,
            recovery_option=option,
            extraction_stack=extraction,
        )


def position_json(c: Coord) -> dict[str, int]:
    if len(c) == 3:
        return {"x": c[0], "y": c[1], "z": c[2]}
    return {"x": c[0], "y": c[1]}


def coord_key(c: Coord) -> str:
    return ",".join(str(v) for v in c)


def parse_position(value: Any, field: str) -> Coord:
    """A ``{"x", "y"[, "z"]}`` object as a coordinate tuple."""
    if not isinstance(value, dict):
        raise WireFormatError(f"{field} must be a position object")
    try:
        x, y = value["x"], value["y"]
    except KeyError as exc:
        raise WireFormatError(f"{field} lacks {exc.args[0]!r}") from None
    z = value.get("z")
    for v in (x, y) if z is None else (x, y, z):
        if not isinstance(v, int) or isinstance(v, bool):
            raise WireFormatError(f"{field} coordinates must be integers")
    if z is None:
        return (x, y)
    return (x, y, z)


def parse_key(key: str) -> Coord:
    """A ``"x,y"`` / ``"x,y,z"`` key as a coordinate tuple."""
    parts = key.split(",")
    if len(parts) not in (2, 3):
        raise WireFormatError(f"bad cell key {key!r}")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise WireFormatError(f"bad cell key {key!r}") from None


def _opt_position(data: dict[str, Any], field: str) -> Coord | None:
    value = data.get(field)
    if value is None:
        return None
    return parse_position(value, f"move.{field}")


def _position_list(value: Any, field: str) -> tuple[Coord, ...]:
    if not isinstance(value, list):
        raise WireFormatError(f"move.{field} must be a list of positions")
    return tuple(parse_position(v, f"move.{field}") for v in value)
