"""The public engine: ``new_game``, ``legal_moves`` and ``apply_move``.

``legal_moves`` lists every choice the player to move has, bookkeeping moves included (R075),
so any driver is a plain loop. ``apply_move`` accepts exactly those moves (matched by their
identity, so placeholder fields never matter) and returns a new state; anything else raises
``IllegalMove`` with the reason.
"""

from __future__ import annotations

from typing import Any

from ringrift.rules import board as B
from ringrift.rules.errors import IllegalMove, WireFormatError
from ringrift.rules.geometry import Coord
from ringrift.rules.moves import (
    BOOKKEEPING_TYPES,
    CHOOSE_LINE_OPTION,
    CHOOSE_TERRITORY_OPTION,
    CONTINUE_CAPTURE_SEGMENT,
    ELIMINATE_RINGS_FROM_STACK,
    FORCED_ELIMINATION,
    MOVE_STACK,
    NO_LINE_ACTION,
    NO_MOVEMENT_ACTION,
    NO_PLACEMENT_ACTION,
    NO_TERRITORY_ACTION,
    OVERTAKING_CAPTURE,
    PLACE_RING,
    PROCESS_LINE,
    RECOVERY_SLIDE,
    SKIP_CAPTURE,
    SKIP_PLACEMENT,
    SKIP_RECOVERY,
    SKIP_TERRITORY_PROCESSING,
    SWAP_SIDES,
    Move,
)
from ringrift.rules.state import (
    CAPTURE,
    CHAIN_CAPTURE,
    COMPLETED,
    FORCED_ELIMINATION_PHASE,
    GAME_OVER,
    LINE_PROCESSING,
    MOVEMENT,
    RING_PLACEMENT,
    TERRITORY_PROCESSING,
    GameState,
    cap_height,
    initial_state,
)

PHASE_MOVE_TYPES: dict[str, frozenset[str]] = {
    RING_PLACEMENT: frozenset({PLACE_RING, SKIP_PLACEMENT, NO_PLACEMENT_ACTION, SWAP_SIDES}),
    MOVEMENT: frozenset(
        {MOVE_STACK, OVERTAKING_CAPTURE, NO_MOVEMENT_ACTION, RECOVERY_SLIDE, SKIP_RECOVERY}
    ),
    CAPTURE: frozenset({OVERTAKING_CAPTURE, SKIP_CAPTURE}),
    CHAIN_CAPTURE: frozenset({CONTINUE_CAPTURE_SEGMENT}),
    LINE_PROCESSING: frozenset(
        {PROCESS_LINE, CHOOSE_LINE_OPTION, ELIMINATE_RINGS_FROM_STACK, NO_LINE_ACTION}
    ),
    TERRITORY_PROCESSING: frozenset(
        {
            CHOOSE_TERRITORY_OPTION,
            ELIMINATE_RINGS_FROM_STACK,
            SKIP_TERRITORY_PROCESSING,
            NO_TERRITORY_ACTION,
        }
    ),
    FORCED_ELIMINATION_PHASE: frozenset({FORCED_ELIMINATION}),
    GAME_OVER: frozenset(),
}
# F-17: where a recorded swap_sides may stand (legal_moves offers it in ring_placement only).
_SWAP_PHASES = (RING_PLACEMENT, MOVEMENT, CAPTURE, CHAIN_CAPTURE)


# Moves are immutable values, so the most numerous ones (placements) are built once per board
# and player and shared: table[player][cell][count] with count 0 meaning "onto a stack".
_PLACEMENTS: dict[int, list[list[list[Move]]]] = {}


def _placement_table(s: GameState) -> list[list[list[Move]]]:
    geo = s.geo
    table = _PLACEMENTS.get(id(geo))
    if table is None:
        table = [
            [
                [
                    Move(PLACE_RING, p, c, placement_count=max(k, 1), placed_on_stack=k == 0)
                    for k in range(4)
                ]
                for c in geo.coords
            ]
            for p in range(5)
        ]
        _PLACEMENTS[id(geo)] = table
    return table


def new_game(
    board_type: str,
    num_players: int,
    rules_options: dict[str, Any] | None = None,
    *,
    game_id: str = "",
) -> GameState:
    """A fresh game (F-18): empty board, full supplies, player 1 to place."""
    return initial_state(board_type, num_players, rules_options, game_id)


# -- legal move generation --------------------------------------------------------------------


def legal_moves(state: GameState) -> list[Move]:
    """Every legal move of the player to move; empty only when the game is over."""
    cached = state._legal_cache
    if cached is None:
        cached = _generate(state)
        state._legal_cache = cached
    return list(cached)


def _generate(s: GameState) -> list[Move]:
    if s.game_status == COMPLETED:
        return []
    phase = s.current_phase
    if phase == RING_PLACEMENT:
        return _placement_moves(s)
    if phase == MOVEMENT:
        return _movement_moves(s)
    if phase == CAPTURE:
        moves = _capture_moves(s, s.chain_pos, OVERTAKING_CAPTURE)
        moves.append(Move(SKIP_CAPTURE, s.current_player))
        return moves
    if phase == CHAIN_CAPTURE:
        return _capture_moves(s, s.chain_pos, CONTINUE_CAPTURE_SEGMENT)
    if phase == LINE_PROCESSING:
        return _line_moves(s)
    if phase == TERRITORY_PROCESSING:
        return _territory_moves(s)
    if phase == FORCED_ELIMINATION_PHASE:
        return _forced_elimination_moves(s)
    return []


def _placement_moves(s: GameState) -> list[Move]:
    """R080-R082 and F-01/F-02: every live (cell, count); skip when some stack can move."""
    p = s.current_player
    table = _placement_table(s)[p]
    moves: list[Move] = []
    if _swap_available(s):
        moves.append(Move(SWAP_SIDES, p))
    placements = 0
    if s.hand[p] > 0:
        limit = B.placement_limit(s, p)
        stacks, caps, markers, collapsed = s.stacks, s.caps, s.markers, s.collapsed
        bits = s.geo.bits
        # Cells with a free run of `limit` cells take every count; only the rest need the
        # full probe (captures included).
        easy = B.clear_run_mask(s, limit) if limit > 0 else 0
        for cell in range(s.geo.num_cells):
            if collapsed[cell] or markers[cell]:
                continue
            st = stacks[cell]
            if st is None:
                if limit > 0:
                    row = table[cell]
                    if easy >> bits[cell] & 1:
                        moves.extend(row[1 : limit + 1])
                        placements += limit
                        continue
                    for k in B.live_counts(s, cell, p, limit):
                        moves.append(row[k])
                        placements += 1
            elif limit > 0:
                cap = caps[cell] + 1 if st[0] == p else 1
                if B.can_reach(s, cell, len(st) + 1, cap):
                    moves.append(table[cell][0])
                    placements += 1
        if _may_skip_placement(s, p):
            moves.append(Move(SKIP_PLACEMENT, p))
            placements += 1
    if placements == 0:
        moves.append(Move(NO_PLACEMENT_ACTION, p))
    return moves


def _may_skip_placement(s: GameState, p: int) -> bool:
    """F-01: skipping needs a controlled stack that can move or capture, or (with no stack at
    all) recovery eligibility."""
    controls = False
    caps = s.caps
    for cell, st in enumerate(s.stacks):
        if st is not None and st[0] == p:
            controls = True
            if B.can_reach(s, cell, len(st), caps[cell]):
                return True
    return not controls and B.recovery_eligible(s, p)


def _swap_available(s: GameState) -> bool:
    """R180/F-17: offered once to player 2 at the start of their first turn, when enabled."""
    if not s.swap_enabled or s.current_player != 2 or s.current_phase != RING_PLACEMENT:
        return False
    return s.has_moved(1) and not s.has_moved(2)


def _movement_moves(s: GameState) -> list[Move]:
    """R090-R093, R100, R110-R115: stack moves and captures (must-move aware), else recovery,
    else the bookkeeping ``no_movement_action``."""
    p = s.current_player
    coords = s.geo.coords
    if s.must_move >= 0:
        st = s.stacks[s.must_move]
        cells = [s.must_move] if st is not None and st[0] == p else []
    else:
        cells = B.controlled_cells(s, p)
    moves: list[Move] = []
    for cell in cells:
        src = coords[cell]
        for _, dst in B.stack_moves(s, cell):
            moves.append(Move(MOVE_STACK, p, coords[dst], src))
        for _, target, landing in B.stack_captures(s, cell):
            moves.append(Move(OVERTAKING_CAPTURE, p, coords[landing], src, coords[target]))
    if not cells and B.recovery_eligible(s, p):
        moves.extend(_recovery_moves(s, p))
        moves.append(Move(SKIP_RECOVERY, p))
    if not moves:
        moves.append(Move(NO_MOVEMENT_ACTION, p))
    return moves


def _capture_moves(s: GameState, cell: int, move_type: str) -> list[Move]:
    """Capture segments from the chain cell (R103); a state loaded without its chain cell
    allows them from any controlled stack."""
    p = s.current_player
    coords = s.geo.coords
    cells = [cell] if cell >= 0 else B.controlled_cells(s, p)
    moves: list[Move] = []
    for c in cells:
        st = s.stacks[c]
        if st is None or st[0] != p:
            continue
        src = coords[c]
        moves.extend(
            Move(move_type, p, coords[landing], src, coords[target])
            for _, target, landing in B.stack_captures(s, c)
        )
    return moves


def _recovery_moves(s: GameState, p: int) -> list[Move]:
    """R110-R115/F-14: line slides (Option 1 per extraction stack, Option 2 per L-window
    containing the destination); only when no line slide exists, fallback and stack-strike
    slides, each paid by one extraction."""
    geo = s.geo
    coords = geo.coords
    stacks, markers, collapsed = s.stacks, s.markers, s.collapsed
    length = s.line_len
    extraction = [coords[c] for c, st in enumerate(stacks) if st is not None and p in st[1:]]
    layer = markers.copy()
    moves: list[Move] = []
    for src, m in enumerate(markers):
        if m != p:
            continue
        layer[src] = 0
        for dst in geo.adjacent[src]:
            if markers[dst] or collapsed[dst] or stacks[dst] is not None:
                continue
            layer[dst] = p
            line = B.line_through(s, p, dst, layer)
            layer[dst] = 0
            if not line:
                continue
            line_coords = tuple(coords[c] for c in line)
            for ex in extraction:
                moves.append(
                    Move(
                        RECOVERY_SLIDE,
                        p,
                        coords[dst],
                        coords[src],
                        line=line_coords,
                        recovery_mode="line",
                        recovery_option=1,
                        extraction_stack=ex,
                    )
                )
            if len(line) > length:
                pos = line.index(dst)
                for start in range(len(line) - length + 1):
                    if start <= pos < start + length:
                        moves.append(
                            Move(
                                RECOVERY_SLIDE,
                                p,
                                coords[dst],
                                coords[src],
                                cells=line_coords[start : start + length],
                                line=line_coords,
                                recovery_mode="line",
                                recovery_option=2,
                            )
                        )
        layer[src] = p
    if moves:
        return moves
    for src, m in enumerate(markers):
        if m != p:
            continue
        for dst in geo.adjacent[src]:
            if collapsed[dst] or markers[dst]:
                continue
            mode = "fallback" if stacks[dst] is None else "stack_strike"
            for ex in extraction:
                moves.append(
                    Move(
                        RECOVERY_SLIDE,
                        p,
                        coords[dst],
                        coords[src],
                        recovery_mode=mode,
                        extraction_stack=ex,
                    )
                )
    return moves


def _line_moves(s: GameState) -> list[Move]:
    """R120-R123, F-10/F-11: an owed reward first; else per line ``process_line`` and, for an
    overlength line, one ``choose_line_option`` per window of exactly L cells."""
    p = s.current_player
    coords = s.geo.coords
    if s.pending_line_reward:
        return [
            Move(ELIMINATE_RINGS_FROM_STACK, p, coords[c], elimination_context="line")
            for c in B.controlled_cells(s, p)
        ]
    moves: list[Move] = []
    length = s.line_len
    for line in B.find_lines(s, p):
        line_coords = tuple(coords[c] for c in line)
        moves.append(Move(PROCESS_LINE, p, line_coords[0], cells=line_coords, line=line_coords))
        if len(line) > length:
            for start in range(len(line) - length + 1):
                window = line_coords[start : start + length]
                moves.append(Move(CHOOSE_LINE_OPTION, p, window[0], cells=window, line=line_coords))
    if not moves:
        moves.append(Move(NO_LINE_ACTION, p))
    return moves


def _processable_regions(s: GameState, p: int) -> list[tuple[int, ...]]:
    """R143: regions the mover can pay for: a controlled stack outside (territory context), or
    a buried own ring outside (recovery context)."""
    regions = B.find_regions(s)
    if not regions:
        return []
    stacks = s.stacks
    if s.turn_recovery:
        payers = [c for c, st in enumerate(stacks) if st is not None and p in st[1:]]
    else:
        payers = [c for c, st in enumerate(stacks) if st is not None and st[0] == p]
    if not payers:
        return []
    out = []
    for region in regions:
        inside = set(region)
        if any(c not in inside for c in payers):
            out.append(region)
    return out


def _territory_moves(s: GameState) -> list[Move]:
    """R140-R145/F-13: the owed self-elimination first; else one choice per processable
    region plus ``skip_territory_processing``; else ``no_territory_action``."""
    p = s.current_player
    coords = s.geo.coords
    stacks = s.stacks
    if s.pending_region is not None:
        inside = set(s.pending_region)
        if s.turn_recovery:
            return [
                Move(ELIMINATE_RINGS_FROM_STACK, p, coords[c], elimination_context="recovery")
                for c, st in enumerate(stacks)
                if st is not None and c not in inside and p in st[1:]
            ]
        return [
            Move(ELIMINATE_RINGS_FROM_STACK, p, coords[c], elimination_context="territory")
            for c, st in enumerate(stacks)
            if st is not None and c not in inside and st[0] == p
        ]
    moves = [
        Move(
            CHOOSE_TERRITORY_OPTION,
            p,
            coords[region[0]],
            cells=tuple(coords[c] for c in region),
        )
        for region in _processable_regions(s, p)
    ]
    if moves:
        moves.append(Move(SKIP_TERRITORY_PROCESSING, p))
    else:
        moves.append(Move(NO_TERRITORY_ACTION, p))
    return moves


def _forced_elimination_moves(s: GameState) -> list[Move]:
    """R205/F-05: one choice per controlled stack, smallest cap first."""
    p = s.current_player
    coords = s.geo.coords
    cells = sorted(B.controlled_cells(s, p), key=lambda c: (s.caps[c], c))
    return [Move(FORCED_ELIMINATION, p, coords[c]) for c in cells]


# -- applying moves -----------------------------------------------------------------------------


def apply_move(state: GameState, move: Move) -> GameState:
    """Apply a legal move and return the new state; the input state is left unchanged.

    Raises ``IllegalMove`` (with the reason) for anything ``legal_moves`` does not list."""
    if not isinstance(move, Move):
        raise WireFormatError("apply_move expects a Move; parse JSON with Move.from_json")
    if state.game_status == COMPLETED:
        raise IllegalMove("the game is over")
    cached = state._legal_cache
    chosen: Move | None = None
    if cached is not None:
        for m in cached:
            if m is move:
                chosen = m
                break
    if chosen is None:
        chosen = _match(state, move)
    return _commit(state, chosen)


def withdraw(state: GameState, seat: int, reason: str) -> GameState:
    """F-30 (project decision): ``seat`` leaves the game without ending it for the others
    (its clock ran out, or it abandoned a 3-4 player game); the platform supplies ``reason``.

    The seat's stacks and markers stay on the board as they are (others may still capture
    them), its rings in hand stay out of play, and it takes no further turns: the rotation
    skips it, and last-player-standing treats it as a seat without material. When it
    withdraws on its own turn, the turn ends there: a capture chain stops and an owed
    decision or elimination is dropped, and the next seat in play starts its turn. When at
    most one seat is left in play, the game ends and that seat wins with ``reason`` (with no
    seat in play, the bare-board tie-break picks among the seats that did not withdraw).
    In ``final_ranks`` a withdrawn seat ranks below every seat that stayed, and a later
    withdrawal above an earlier one. Withdrawal is not a move: the move count is unchanged.
    """
    if state.game_status == COMPLETED:
        raise IllegalMove("the game is over")
    if isinstance(seat, bool) or not isinstance(seat, int) or not 1 <= seat <= state.num_players:
        raise IllegalMove(f"seat {seat!r} is not a seat of this {state.num_players}-player game")
    if seat in state.withdrawn:
        raise IllegalMove(f"seat {seat} has already withdrawn")
    if not isinstance(reason, str) or not reason:
        raise WireFormatError("withdraw needs a non-empty reason")
    t = state.copy()
    t.withdrawn = (*state.withdrawn, seat)
    staying = [p for p in range(1, t.num_players + 1) if t.in_play(p)]
    if len(staying) <= 1:
        _finish(t, staying[0] if staying else _stalemate_winner(t, count_hand=True), reason)
    elif t.current_player == seat:
        _end_turn(t)
    return t


def _commit(state: GameState, move: Move) -> GameState:
    """The new state after a move already known to be acceptable."""
    new = state.copy()
    _dispatch(new, move)
    new.history = (*state.history, move)
    new.moves_made = state.moves_made + 1
    new.last_mover = move.player
    new.moved_mask = state.moved_mask | 1 << move.player
    _after_move(new, move)
    return new


def apply_recorded_move(state: GameState, move: Move) -> GameState:
    """Replay a move recorded by another host, trusting its choice (like python-chess's
    ``push``): player, phase and the pieces it names are checked, but not that the move is in
    ``legal_moves``. For replaying foreign records and the contract vectors only; untrusted
    input goes through ``apply_move``."""
    if not isinstance(move, Move):
        raise WireFormatError("apply_recorded_move expects a Move")
    if state.game_status == COMPLETED:
        raise IllegalMove("the game is over")
    try:
        chosen = _match(state, move)
    except IllegalMove:
        chosen = _check_recorded(state, move)
    return _commit(state, chosen)


def _check_recorded(s: GameState, move: Move) -> Move:
    """Structural checks that keep a trusted replay consistent (R021-R023 invariants)."""
    p = s.current_player
    if move.player != p:
        raise IllegalMove(f"it is player {p}'s turn, not player {move.player}'s")
    mtype = _phase_alias(s.current_phase, move.type)
    if mtype not in PHASE_MOVE_TYPES[s.current_phase] and not (
        mtype == SWAP_SIDES and s.current_phase in _SWAP_PHASES
    ):
        raise IllegalMove(f"{move.type} is not allowed in phase {s.current_phase}")
    index = s.geo.index
    to = _normalise(s, move.to, "to")
    src = _normalise(s, move.from_, "from")
    target = _normalise(s, move.capture_target, "captureTarget")
    cells = _normalise_all(s, move.cells)
    line = _normalise_all(s, move.line)

    def stack(c: Coord | None) -> tuple[int, ...] | None:
        return None if c is None else s.stacks[index[c]]

    def free(c: Coord | None) -> bool:
        return c is not None and stack(c) is None and not s.collapsed[index[c]]

    ok = True
    if mtype == PLACE_RING:
        k = move.placement_count or 1
        ok = (
            to is not None
            and not s.collapsed[index[to]]
            and not s.markers[index[to]]
            and 1 <= k <= s.hand[p]
            and (stack(to) is None or k == 1)
        )
    elif mtype == MOVE_STACK:
        st = stack(src)
        ok = (
            st is not None
            and st[0] == p
            and free(to)
            and B.path_between(s, index[src], index[to]) is not None  # type: ignore[index]
        )
    elif mtype in (OVERTAKING_CAPTURE, CONTINUE_CAPTURE_SEGMENT):
        st = stack(src)
        ok = (
            st is not None
            and st[0] == p
            and stack(target) is not None
            and free(to)
            and B.path_between(s, index[src], index[target]) is not None  # type: ignore[index]
            and B.path_between(s, index[target], index[to]) is not None  # type: ignore[index]
            and B.path_between(s, index[src], index[to]) is not None  # type: ignore[index]
        )
    elif mtype in (PROCESS_LINE, CHOOSE_LINE_OPTION):
        ok = bool(cells) and all(s.markers[index[c]] == p for c in cells)  # type: ignore[union-attr]
    elif mtype == CHOOSE_TERRITORY_OPTION:
        # A choice naming no detectable region is a no-op (docs/rules.md §11).
        ok = all(not s.collapsed[index[c]] for c in cells or ())
    elif mtype in (ELIMINATE_RINGS_FROM_STACK, FORCED_ELIMINATION):
        ok = stack(to) is not None
    elif mtype == RECOVERY_SLIDE:
        ok = (
            src is not None
            and to is not None
            and s.markers[index[src]] == p
            and index[to] in s.geo.adjacent[index[src]]
        )
    if not ok:
        raise IllegalMove(_why_illegal(s, mtype, to, src))
    return move._replace(
        type=mtype, to=to, from_=src, capture_target=target, cells=cells, line=line
    )


def _phase_alias(phase: str, mtype: str) -> str:
    """Hosts differ on the name of a capture segment and of a forced elimination."""
    if phase == CHAIN_CAPTURE and mtype == OVERTAKING_CAPTURE:
        return CONTINUE_CAPTURE_SEGMENT
    if phase == CAPTURE and mtype == CONTINUE_CAPTURE_SEGMENT:
        return OVERTAKING_CAPTURE
    if phase == FORCED_ELIMINATION_PHASE and mtype == ELIMINATE_RINGS_FROM_STACK:
        return FORCED_ELIMINATION
    return mtype


def _normalise(s: GameState, c: Coord | None, field: str) -> Coord | None:
    return None if c is None else _normalise_cell(s, c, field)


def _normalise_cell(s: GameState, c: Coord, field: str) -> Coord:
    geo = s.geo
    if geo.is_hex and len(c) == 2:
        c = (c[0], c[1], -c[0] - c[1])
    if c not in geo.index:
        raise IllegalMove(f"{field} {c} is not a cell of the {geo.board_type} board")
    return c


def _normalise_all(s: GameState, cells: tuple[Coord, ...] | None) -> tuple[Coord, ...] | None:
    return None if cells is None else tuple(_normalise_cell(s, c, "cell") for c in cells)


def _match(s: GameState, move: Move) -> Move:
    """The legal move that ``move`` names, or ``IllegalMove`` saying why there is none."""
    p = s.current_player
    if move.player != p:
        raise IllegalMove(f"it is player {p}'s turn, not player {move.player}'s")
    phase = s.current_phase
    mtype = _phase_alias(phase, move.type)
    if mtype not in PHASE_MOVE_TYPES[phase]:
        raise IllegalMove(f"{move.type} is not allowed in phase {phase}")
    to = _normalise(s, move.to, "to")
    src = _normalise(s, move.from_, "from")
    target = _normalise(s, move.capture_target, "captureTarget")
    cells = _normalise_all(s, move.cells)
    extraction = _normalise(s, move.extraction_stack, "extractionStacks")
    legal = s._legal_cache if s._legal_cache is not None else legal_moves(s)
    for m in legal:
        if m.type != mtype and not (
            mtype in (PROCESS_LINE, CHOOSE_LINE_OPTION)
            and m.type in (PROCESS_LINE, CHOOSE_LINE_OPTION)
        ):
            continue
        t = m.type
        if t == PLACE_RING:
            ok = m.to == to and m.placement_count == (move.placement_count or 1)
        elif t == MOVE_STACK:
            ok = m.from_ == src and m.to == to
        elif t in (OVERTAKING_CAPTURE, CONTINUE_CAPTURE_SEGMENT):
            ok = m.from_ == src and m.capture_target == target and m.to == to
        elif t in (PROCESS_LINE, CHOOSE_LINE_OPTION):
            if cells:
                ok = frozenset(cells) == frozenset(m.cells or ())
            else:
                ok = t == PROCESS_LINE and to is not None and to in (m.cells or ())
        elif t == CHOOSE_TERRITORY_OPTION:
            if cells:
                ok = frozenset(cells) == frozenset(m.cells or ())
            else:
                ok = to is not None and to in (m.cells or ())
        elif t in (ELIMINATE_RINGS_FROM_STACK, FORCED_ELIMINATION):
            ok = m.to == to
        elif t == RECOVERY_SLIDE:
            ok = (
                m.from_ == src
                and m.to == to
                and (move.recovery_mode is None or move.recovery_mode == m.recovery_mode)
                and (move.recovery_option is None or move.recovery_option == m.recovery_option)
                and (cells is None or frozenset(cells) == frozenset(m.cells or ()))
                and (extraction is None or extraction == m.extraction_stack)
            )
        else:
            ok = True
        if ok:
            return m
    raise IllegalMove(_why_illegal(s, mtype, to, src))


def _why_illegal(s: GameState, mtype: str, to: Coord | None, src: Coord | None) -> str:
    where = "" if to is None else f" at {','.join(map(str, to))}"
    if mtype == PLACE_RING:
        if s.hand[s.current_player] == 0:
            return "no rings in hand to place"
        return f"placement{where} is not legal (occupied, collapsed, marker or dead stack)"
    if mtype in (MOVE_STACK, OVERTAKING_CAPTURE, CONTINUE_CAPTURE_SEGMENT) and src is not None:
        return f"{mtype} from {','.join(map(str, src))}{where} is not a legal move for this stack"
    return f"{mtype}{where} is not legal in this position"


def _dispatch(t: GameState, m: Move) -> None:
    p = t.current_player
    if m.type not in BOOKKEEPING_TYPES:
        t.turn_changed = True
    index = t.geo.index
    mtype = m.type
    if mtype == PLACE_RING:
        cell = index[m.to]  # type: ignore[index]
        k = m.placement_count or 1
        old = t.stacks[cell] or ()
        _set_stack(t, cell, (p,) * k + old)
        t.hand[p] -= k
        t.on_board[p] += k
        t.must_move = cell
        t.current_phase = MOVEMENT
    elif mtype in (SKIP_PLACEMENT, NO_PLACEMENT_ACTION):
        t.current_phase = MOVEMENT
    elif mtype == SWAP_SIDES:
        # R180: the engine keeps board and counters; the host swaps who sits in which seat.
        pass
    elif mtype == MOVE_STACK:
        src, dst = index[m.from_], index[m.to]  # type: ignore[index]
        _travel(t, p, src, dst, B.path_between(t, src, dst) or ())
        if t.must_move == src:
            t.must_move = dst
        st = t.stacks[dst]
        if st is not None and st[0] == p and B.has_capture(t, dst):
            t.current_phase = CAPTURE
            t.chain_pos = dst
        else:
            _enter_line_processing(t)
    elif mtype in (OVERTAKING_CAPTURE, CONTINUE_CAPTURE_SEGMENT):
        src, target, dst = index[m.from_], index[m.capture_target], index[m.to]  # type: ignore[index]
        _capture(t, p, src, target, dst)
        if t.must_move == src:
            t.must_move = dst
        st = t.stacks[dst]
        if st is not None and st[0] == p and B.has_capture(t, dst):
            t.current_phase = CHAIN_CAPTURE
            t.chain_pos = dst
        else:
            _enter_line_processing(t)
    elif mtype in (SKIP_CAPTURE, NO_MOVEMENT_ACTION, SKIP_RECOVERY):
        _enter_line_processing(t)
    elif mtype == RECOVERY_SLIDE:
        _recovery_slide(t, p, m)
        t.turn_recovery = True
        _enter_line_processing(t)
    elif mtype in (PROCESS_LINE, CHOOSE_LINE_OPTION):
        cells = [index[c] for c in m.cells]  # type: ignore[union-attr]
        _collapse(t, cells, p)
        if len(cells) == len(m.line or m.cells) and B.controls_any(t, p):  # type: ignore[arg-type]
            t.pending_line_reward = True
        if not t.pending_line_reward and not B.find_lines(t, p):
            t.current_phase = TERRITORY_PROCESSING
    elif mtype == ELIMINATE_RINGS_FROM_STACK:
        cell = index[m.to]  # type: ignore[index]
        if t.current_phase == LINE_PROCESSING:
            _eliminate_top(t, cell, 1, p)
            t.pending_line_reward = False
        else:
            if m.elimination_context == "recovery":
                _extract(t, cell, p, p)
            else:
                _eliminate_top(t, cell, t.caps[cell], p)
            t.pending_region = None
            if not _processable_regions(t, p):
                _territory_exit(t)
    elif mtype == NO_LINE_ACTION:
        # Line-exit (F-05 a): a turn without a board change ends in forced elimination when
        # no territory decision exists and the player still controls a stack.
        if not t.turn_changed and B.controls_any(t, p) and not _processable_regions(t, p):
            t.current_phase = FORCED_ELIMINATION_PHASE
        else:
            t.current_phase = TERRITORY_PROCESSING
    elif mtype == CHOOSE_TERRITORY_OPTION:
        region = tuple(index[c] for c in m.cells or ())
        if region:
            _process_region(t, p, region)
            t.pending_region = region
    elif mtype in (SKIP_TERRITORY_PROCESSING, NO_TERRITORY_ACTION):
        _territory_exit(t)
    elif mtype == FORCED_ELIMINATION:
        cell = index[m.to]  # type: ignore[index]
        _eliminate_top(t, cell, max(1, t.caps[cell]), p)
        _end_turn(t)
    else:  # pragma: no cover - _match only returns listed types
        raise IllegalMove(f"unsupported move type {mtype}")


def _after_move(t: GameState, m: Move) -> None:
    """Victory is checked after every applied move (F-09); record who just ran out of rings.

    After a forced elimination the rotation (and its LPS win) comes first; a ring or
    territory win found afterwards overrides it (F-21)."""
    if t.game_status != COMPLETED:
        _check_victory(t)
    elif m.type == FORCED_ELIMINATION and t.victory_reason == "last_player_standing":
        _check_ring_or_territory(t)
    moves_made = t.moves_made
    for p in range(1, t.num_players + 1):
        if not t.out_at[p] and t.hand[p] + t.on_board[p] == 0:
            t.out_at[p] = moves_made


def _set_stack(t: GameState, cell: int, rings: tuple[int, ...]) -> None:
    if rings:
        t.stacks[cell] = rings
        t.caps[cell] = cap_height(rings)
    else:
        t.stacks[cell] = None
        t.caps[cell] = 0


def _eliminate_top(t: GameState, cell: int, count: int, credit: int) -> None:
    """R022: remove ``count`` rings from the top of a stack, credited to ``credit``."""
    rings = t.stacks[cell]
    assert rings is not None
    for r in rings[:count]:
        t.on_board[r] -= 1
    removed = min(count, len(rings))
    t.eliminated[credit] += removed
    t.board_eliminated[credit] += removed
    _set_stack(t, cell, rings[count:])


def _extract(t: GameState, cell: int, owner: int, credit: int) -> None:
    """R113: eliminate the owner's bottom-most ring of a stack (recovery cost)."""
    rings = t.stacks[cell]
    assert rings is not None and owner in rings
    idx = len(rings) - 1 - rings[::-1].index(owner)
    t.on_board[owner] -= 1
    t.eliminated[credit] += 1
    t.board_eliminated[credit] += 1
    _set_stack(t, cell, rings[:idx] + rings[idx + 1 :])


def _collapse(t: GameState, cells: list[int] | tuple[int, ...], owner: int) -> None:
    markers, collapsed = t.markers, t.collapsed
    for c in cells:
        markers[c] = 0
        collapsed[c] = owner
    t.territory[owner] += len(cells)


def _cross_markers(t: GameState, p: int, path: tuple[int, ...]) -> None:
    """R092: markers passed over flip to the mover; the mover's own collapse to territory."""
    markers = t.markers
    for c in path:
        m = markers[c]
        if m:
            if m == p:
                markers[c] = 0
                t.collapsed[c] = p
                t.territory[p] += 1
            else:
                markers[c] = p


def _land(t: GameState, p: int, dst: int, rings: tuple[int, ...]) -> None:
    """R092/R102: landing on a marker removes it and eliminates the mover's top ring."""
    _set_stack(t, dst, rings)
    if t.markers[dst]:
        t.markers[dst] = 0
        _eliminate_top(t, dst, 1, p)


def _travel(t: GameState, p: int, src: int, dst: int, path: tuple[int, ...]) -> None:
    """R090-R092: a non-capture move leaves a marker on its origin."""
    rings = t.stacks[src]
    assert rings is not None
    _set_stack(t, src, ())
    t.markers[src] = p
    _cross_markers(t, p, path)
    _land(t, p, dst, rings)


def _capture(t: GameState, p: int, src: int, target: int, dst: int) -> None:
    """R102 (F-15 order): departure marker, markers on both legs, the target's top ring to the
    bottom of the attacker, landing (with its marker cost)."""
    rings = t.stacks[src]
    assert rings is not None
    _set_stack(t, src, ())
    t.markers[src] = p
    _cross_markers(t, p, B.path_between(t, src, target) or ())
    _cross_markers(t, p, B.path_between(t, target, dst) or ())
    victim = t.stacks[target]
    assert victim is not None
    _set_stack(t, target, victim[1:])
    _land(t, p, dst, (*rings, victim[0]))


def _recovery_slide(t: GameState, p: int, m: Move) -> None:
    """R112-R115/F-14: slide a marker; pay by extraction unless Option 2 collapsed for free."""
    index = t.geo.index
    src, dst = index[m.from_], index[m.to]  # type: ignore[index]
    t.markers[src] = 0
    mode = m.recovery_mode or "line"
    if mode == "stack_strike":
        _eliminate_top(t, dst, 1, p)
    else:
        t.markers[dst] = p
    if mode == "line":
        cells = m.cells if m.recovery_option == 2 else m.line
        _collapse(t, [index[c] for c in cells or ()], p)
    if m.extraction_stack is not None and not (mode == "line" and m.recovery_option == 2):
        cell = index[m.extraction_stack]
        if t.stacks[cell] is not None and p in t.stacks[cell]:  # type: ignore[operator]
            _extract(t, cell, p, p)


def _process_region(t: GameState, p: int, region: tuple[int, ...]) -> None:
    """R144/R145: eliminate every ring inside (credited to the mover), collapse the region and
    its border markers to the mover."""
    border = B.border_markers(t, region)
    count = 0
    for c in region:
        rings = t.stacks[c]
        if rings is not None:
            for r in rings:
                t.on_board[r] -= 1
            count += len(rings)
            _set_stack(t, c, ())
    t.eliminated[p] += count
    t.board_eliminated[p] += count
    _collapse(t, [*region, *border], p)


def _enter_line_processing(t: GameState) -> None:
    t.current_phase = LINE_PROCESSING
    t.must_move = -1
    t.chain_pos = -1


def _territory_exit(t: GameState) -> None:
    """F-05 b: no board change this turn and a stack still controlled -> forced elimination;
    otherwise the victory check, then the turn passes."""
    p = t.current_player
    if not t.turn_changed and B.controls_any(t, p):
        t.current_phase = FORCED_ELIMINATION_PHASE
        return
    if _check_victory(t):
        return
    _end_turn(t)


def _end_turn(t: GameState) -> None:
    """F-07: the next seat (current seat last) owning any ring takes the turn; LPS tracking
    is updated at the start of that turn."""
    n = t.num_players
    cur = t.current_player
    t.must_move = -1
    t.chain_pos = -1
    t.pending_line_reward = False
    t.pending_region = None
    t.current_phase = RING_PLACEMENT
    for i in range(1, n + 1):
        q = (cur - 1 + i) % n + 1
        if t.in_play(q):
            break
    else:
        return
    t.current_player = q
    t.turn_changed = False
    t.turn_recovery = False
    t.turn_number += 1
    _update_lps(t)


def _update_lps(t: GameState) -> None:
    """R172/F-08: round-based last-player-standing tracking at turn start, and its win."""
    p = t.current_player
    n = t.num_players

    def material(q: int) -> bool:
        return t.in_play(q)

    if not material(p):
        return
    mask = list(t.lps_mask)
    first = t.lps_first
    if first == 0 or not material(first):
        t.lps_first = p
        mask = [False] * (n + 1)
        if t.lps_holder and not material(t.lps_holder):
            t.lps_streak = 0
            t.lps_holder = 0
    elif p == first and any(mask):
        exclusive = [q for q in range(1, n + 1) if mask[q] and material(q)]
        if len(exclusive) == 1:
            q = exclusive[0]
            t.lps_streak = t.lps_streak + 1 if t.lps_holder == q else 1
            t.lps_holder = q
        else:
            t.lps_streak = 0
            t.lps_holder = 0
        t.lps_first = p
        mask = [False] * (n + 1)
    acts = B.has_real_action(t, p)
    mask[p] = acts
    t.lps_mask = tuple(mask)
    if (
        t.lps_streak >= t.lps_required
        and t.lps_holder == p
        and acts
        and not any(q != p and material(q) and B.has_real_action(t, q) for q in range(1, n + 1))
    ):
        _finish(t, p, "last_player_standing")


def _finish(t: GameState, winner: int, reason: str) -> None:
    t.game_status = COMPLETED
    t.current_phase = GAME_OVER
    t.winner = winner
    t.current_player = winner
    t.victory_reason = reason
    t.must_move = -1
    t.chain_pos = -1
    t.pending_line_reward = False
    t.pending_region = None


def _check_victory(t: GameState) -> bool:
    """R170-R175 in order: ring elimination, territory, early LPS, bare-board stalemate."""
    if _check_ring_or_territory(t):
        return True
    players = range(1, t.num_players + 1)
    stacks = t.stacks
    if stacks.count(None) == len(stacks):
        holders = [p for p in players if t.hand[p] > 0]
        if not holders:
            _finish(t, _stalemate_winner(t, count_hand=False), "stalemate")
            return True
        if not _bare_board_placement(t):
            _finish(t, _stalemate_winner(t, count_hand=True), "stalemate")
            return True
        return False
    # Early LPS needs every other player out of the game, so look only when someone is.
    if any(not t.in_play(p) for p in players):
        controllers = {st[0] for st in stacks if st is not None}
        if len(controllers) == 1:
            (q,) = controllers
            if t.in_play(q) and all(not t.in_play(o) for o in players if o != q):
                _finish(t, q, "last_player_standing")
                return True
    return False


def _check_ring_or_territory(t: GameState) -> bool:
    """R170 ring elimination (first seat at the threshold), then R171 territory (at least
    the minimum and more than all opponents together, counted from collapsed cells)."""
    players = range(1, t.num_players + 1)
    for p in players:
        if t.eliminated[p] >= t.victory_threshold:
            _finish(t, p, "ring_elimination")
            return True
    collapsed = t.collapsed
    total = len(collapsed) - collapsed.count(0)
    minimum = t.territory_minimum
    if total >= minimum:
        for p in players:
            owned = collapsed.count(p)
            if owned >= minimum and owned > total - owned:
                _finish(t, p, "territory_control")
                return True
    return False


def _bare_board_placement(t: GameState) -> bool:
    """F-20: on a board without stacks, some free cell where a single ring could move."""
    markers, collapsed = t.markers, t.collapsed
    return any(
        not collapsed[c] and not markers[c] and B.can_reach(t, c, 1, 1)
        for c in range(t.geo.num_cells)
    )


def _stalemate_winner(t: GameState, *, count_hand: bool) -> int:
    """R173 (lexicographic): territory, eliminated rings (+ hand when it counts), markers,
    the last mover; remaining ties go to the earliest seat."""
    last = t.last_mover

    def key(p: int) -> tuple[int, int, int, int, int]:
        return (
            t.collapsed.count(p),
            t.eliminated[p] + (t.hand[p] if count_hand else 0),
            t.markers.count(p),
            1 if p == last else 0,
            -p,
        )

    seats = [p for p in range(1, t.num_players + 1) if p not in t.withdrawn]
    return max(seats or range(1, t.num_players + 1), key=key)
