"""Game state: a compact, copy-on-write position plus its wire format.

The board is three flat lists indexed by cell (``stacks``, ``markers``, ``collapsed``) so that a
new state is a handful of list copies. Stacks are tuples of ring colours, **top ring first**,
exactly as on the wire (R021-R023). Everything else the rules need between moves (must-move,
chain position, owed eliminations, last-player-standing counters) is explicit state, so a
position never has to be re-derived from its history.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ringrift.rules.errors import WireFormatError
from ringrift.rules.geometry import (
    BOARD_TYPES,
    DEFAULT_SIZE,
    RINGS_PER_PLAYER,
    Coord,
    Geometry,
    geometry,
    legacy_territory_threshold,
    line_length,
    territory_minimum,
    victory_threshold,
)
from ringrift.rules.moves import (
    BOOKKEEPING_TYPES,
    RECOVERY_SLIDE,
    Move,
    coord_key,
    parse_position,
    position_json,
)

RING_PLACEMENT = "ring_placement"
MOVEMENT = "movement"
CAPTURE = "capture"
CHAIN_CAPTURE = "chain_capture"
LINE_PROCESSING = "line_processing"
TERRITORY_PROCESSING = "territory_processing"
FORCED_ELIMINATION_PHASE = "forced_elimination"
GAME_OVER = "game_over"
PHASES = (
    RING_PLACEMENT,
    MOVEMENT,
    CAPTURE,
    CHAIN_CAPTURE,
    LINE_PROCESSING,
    TERRITORY_PROCESSING,
    FORCED_ELIMINATION_PHASE,
    GAME_OVER,
)
ACTIVE = "active"
COMPLETED = "completed"


def cap_height(stack: tuple[int, ...]) -> int:
    """R022: the number of consecutive top rings of the controlling colour."""
    top = stack[0]
    n = 1
    for ring in stack[1:]:
        if ring != top:
            break
        n += 1
    return n


# Wire-format keys left out of ``state_hash``: ids, counters and the summary of the past.
HASH_EXCLUDED_KEYS = ("gameId", "turnNumber", "moveCount", "lastMover", "playersMoved")


class GameState:
    """A position. Treat it as immutable: the engine returns new states and never edits one
    that a caller holds. Per-player lists are indexed by player number (index 0 unused)."""

    __slots__ = (
        "_legal_cache",
        "board_eliminated",
        "caps",
        "chain_pos",
        "collapsed",
        "current_phase",
        "current_player",
        "eliminated",
        "game_id",
        "game_status",
        "geo",
        "hand",
        "history",
        "last_mover",
        "line_len",
        "lps_first",
        "lps_holder",
        "lps_mask",
        "lps_required",
        "lps_streak",
        "markers",
        "moved_mask",
        "moves_made",
        "must_move",
        "num_players",
        "on_board",
        "out_at",
        "pending_line_reward",
        "pending_region",
        "rings_per_player",
        "rules_options",
        "stacks",
        "swap_enabled",
        "territory",
        "territory_minimum",
        "territory_threshold",
        "turn_changed",
        "turn_number",
        "turn_recovery",
        "victory_reason",
        "victory_threshold",
        "winner",
        "withdrawn",
    )

    geo: Geometry
    num_players: int
    stacks: list[tuple[int, ...] | None]
    caps: list[int]
    markers: list[int]
    collapsed: list[int]
    hand: list[int]
    eliminated: list[int]
    board_eliminated: list[int]
    territory: list[int]
    on_board: list[int]
    out_at: list[int]
    current_player: int
    current_phase: str
    game_status: str
    winner: int | None
    victory_reason: str | None
    must_move: int
    chain_pos: int
    pending_line_reward: bool
    pending_region: tuple[int, ...] | None
    turn_changed: bool
    turn_recovery: bool
    lps_first: int
    lps_mask: tuple[bool, ...]
    lps_streak: int
    lps_holder: int
    lps_required: int
    rings_per_player: int
    victory_threshold: int
    territory_minimum: int
    territory_threshold: int
    line_len: int
    swap_enabled: bool
    rules_options: dict[str, Any]
    history: tuple[Move, ...]
    # What the rules need from the past, kept so a position never needs its history: moves
    # applied, the player of the last one (R173 tie-break) and a bit per player who has moved
    # (R180 swap offer).
    moves_made: int
    last_mover: int
    withdrawn: tuple[int, ...]
    moved_mask: int
    game_id: str
    turn_number: int
    _legal_cache: list[Move] | None

    # -- construction -------------------------------------------------------------------------

    def copy(self) -> GameState:
        """A copy whose mutable lists are independent of this state's."""
        new = GameState.__new__(GameState)
        new.geo = self.geo
        new.num_players = self.num_players
        new.stacks = self.stacks.copy()
        new.caps = self.caps.copy()
        new.markers = self.markers.copy()
        new.collapsed = self.collapsed.copy()
        new.hand = self.hand.copy()
        new.eliminated = self.eliminated.copy()
        new.board_eliminated = self.board_eliminated.copy()
        new.territory = self.territory.copy()
        new.on_board = self.on_board.copy()
        new.out_at = self.out_at.copy()
        new.current_player = self.current_player
        new.current_phase = self.current_phase
        new.game_status = self.game_status
        new.winner = self.winner
        new.victory_reason = self.victory_reason
        new.must_move = self.must_move
        new.chain_pos = self.chain_pos
        new.pending_line_reward = self.pending_line_reward
        new.pending_region = self.pending_region
        new.turn_changed = self.turn_changed
        new.turn_recovery = self.turn_recovery
        new.lps_first = self.lps_first
        new.lps_mask = self.lps_mask
        new.lps_streak = self.lps_streak
        new.lps_holder = self.lps_holder
        new.lps_required = self.lps_required
        new.rings_per_player = self.rings_per_player
        new.victory_threshold = self.victory_threshold
        new.territory_minimum = self.territory_minimum
        new.territory_threshold = self.territory_threshold
        new.line_len = self.line_len
        new.swap_enabled = self.swap_enabled
        new.rules_options = self.rules_options
        new.history = self.history
        new.moves_made = self.moves_made
        new.last_mover = self.last_mover
        new.withdrawn = self.withdrawn
        new.moved_mask = self.moved_mask
        new.game_id = self.game_id
        new.turn_number = self.turn_number
        new._legal_cache = None
        return new

    # -- read-only views ----------------------------------------------------------------------

    @property
    def board_type(self) -> str:
        return self.geo.board_type

    @property
    def move_count(self) -> int:
        """Moves applied so far; the platform's game version."""
        return self.moves_made

    def has_moved(self, player: int) -> bool:
        """Whether ``player`` has made at least one move in this game."""
        return bool(self.moved_mask >> player & 1)

    @property
    def is_over(self) -> bool:
        return self.game_status == COMPLETED

    def stack_at(self, coord: Coord) -> tuple[int, ...] | None:
        """The rings (top first) at a coordinate, or None."""
        cell = self.geo.cell_of(coord)
        return None if cell is None else self.stacks[cell]

    def in_play(self, player: int) -> bool:
        """F-30: the seat still takes turns: it owns a ring somewhere and has not withdrawn."""
        return self.hand[player] + self.on_board[player] > 0 and player not in self.withdrawn

    def rings_anywhere(self, player: int) -> int:
        """Rings the player still owns: in hand plus on the board (buried ones included)."""
        return self.hand[player] + self.on_board[player]

    def marker_count(self) -> int:
        return sum(1 for m in self.markers if m)

    def collapsed_count(self) -> int:
        return sum(1 for c in self.collapsed if c)

    def stack_count(self) -> int:
        return sum(1 for s in self.stacks if s is not None)

    def progress(self) -> int:
        """R191: S = markers + collapsed cells + eliminated rings; it never decreases."""
        return self.marker_count() + self.collapsed_count() + sum(self.board_eliminated)

    def collapsed_by(self, player: int) -> int:
        return sum(1 for c in self.collapsed if c == player)

    def final_ranks(self) -> list[int]:
        """Rank per seat (index 0 = player 1) once the game is over; 1 is best.

        The winner ranks first; the others by R177/R178: territory, then eliminated rings, then
        own markers, then how late they lost their last ring (never is best). Equal keys share a
        rank (1-2-2-4); seat number never breaks a tie. F-30: a withdrawn seat ranks below every
        seat that stayed in the game, and a later withdrawal above an earlier one.
        """
        if self.game_status != COMPLETED or self.winner is None:
            raise ValueError("the game is not over")
        n = self.num_players
        keys: dict[int, tuple[int, ...]] = {}
        for p in range(1, n + 1):
            out = self.out_at[p]
            stayed = self.withdrawn.index(p) + 1 if p in self.withdrawn else n + 1
            keys[p] = (
                stayed,
                self.collapsed_by(p),
                self.eliminated[p],
                sum(1 for m in self.markers if m == p),
                out if out else 1 << 30,
            )
        others = sorted((p for p in keys if p != self.winner), key=lambda q: keys[q], reverse=True)
        ranks = [0] * n
        ranks[self.winner - 1] = 1
        for i, p in enumerate(others):
            if i > 0 and keys[p] == keys[others[i - 1]]:
                ranks[p - 1] = ranks[others[i - 1] - 1]
            else:
                ranks[p - 1] = i + 2
        return ranks

    # -- wire format --------------------------------------------------------------------------

    def to_json(self, *, include_history: bool = True) -> dict[str, Any]:
        """The wire format of the contract vectors, plus the engine's explicit bookkeeping."""
        geo = self.geo
        stacks: dict[str, Any] = {}
        markers: dict[str, Any] = {}
        collapsed: dict[str, int] = {}
        for cell, key in enumerate(geo.keys):
            s = self.stacks[cell]
            if s is not None:
                stacks[key] = {
                    "position": position_json(geo.coords[cell]),
                    "rings": list(s),
                    "stackHeight": len(s),
                    "capHeight": self.caps[cell],
                    "controllingPlayer": s[0],
                }
            if self.markers[cell]:
                markers[key] = {
                    "position": position_json(geo.coords[cell]),
                    "player": self.markers[cell],
                    "type": "regular",
                }
            if self.collapsed[cell]:
                collapsed[key] = self.collapsed[cell]
        n = self.num_players
        players = [
            {
                "playerNumber": p,
                "ringsInHand": self.hand[p],
                "eliminatedRings": self.eliminated[p],
                "territorySpaces": self.territory[p],
                "isActive": self.in_play(p),
            }
            for p in range(1, n + 1)
        ]
        out: dict[str, Any] = {
            "gameId": self.game_id,
            "boardType": geo.board_type,
            "board": {
                "type": geo.board_type,
                "size": geo.size,
                "stacks": stacks,
                "markers": markers,
                "collapsedSpaces": collapsed,
                "eliminatedRings": {str(p): self.board_eliminated[p] for p in range(1, n + 1)},
            },
            "players": players,
            "currentPlayer": self.current_player,
            "currentPhase": self.current_phase,
            "gameStatus": self.game_status,
            "winner": self.winner,
            "victoryReason": self.victory_reason,
            "turnNumber": self.turn_number,
            "victoryThreshold": self.victory_threshold,
            "territoryVictoryThreshold": self.territory_threshold,
            "territoryVictoryMinimum": self.territory_minimum,
            "totalRingsInPlay": self.rings_per_player * n,
            "totalRingsEliminated": sum(self.board_eliminated),
            "lineLength": self.line_len,
            "rulesOptions": dict(self.rules_options),
            "lpsRoundsRequired": self.lps_required,
            "mustMoveFromStackKey": geo.keys[self.must_move] if self.must_move >= 0 else None,
            "chainCapturePosition": (
                position_json(geo.coords[self.chain_pos]) if self.chain_pos >= 0 else None
            ),
            "pendingLineRewardElimination": self.pending_line_reward,
            "pendingTerritoryElimination": (
                None
                if self.pending_region is None
                else [position_json(geo.coords[c]) for c in self.pending_region]
            ),
            "turnHadBoardChange": self.turn_changed,
            "turnHadRecovery": self.turn_recovery,
            "lpsState": {
                "roundFirstPlayer": self.lps_first,
                "actionMask": [p for p in range(1, n + 1) if self.lps_mask[p]],
                "exclusiveStreak": self.lps_streak,
                "streakHolder": self.lps_holder,
            },
            "eliminatedAtMove": {str(p): self.out_at[p] for p in range(1, n + 1)},
            "moveCount": self.moves_made,
            "lastMover": self.last_mover,
            "playersMoved": [p for p in range(1, n + 1) if self.has_moved(p)],
            "withdrawnSeats": list(self.withdrawn),
        }
        if include_history:
            out["moveHistory"] = [m.to_json() for m in self.history]
        return out

    def state_hash(self) -> str:
        """A stable digest of the position (history, ids and counters excluded)."""
        data = self.to_json(include_history=False)
        for volatile in HASH_EXCLUDED_KEYS:
            data.pop(volatile, None)
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @classmethod
    def from_json(cls, data: Any) -> GameState:
        """Load a wire-format state (a contract-vector input or our own ``to_json`` output)."""
        try:
            return _load(data)
        except WireFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise WireFormatError(f"malformed game state: {exc}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GameState):
            return NotImplemented
        return self.state_hash() == other.state_hash() and self.history == other.history

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"<GameState {self.geo.board_type} {self.num_players}p move={self.move_count} "
            f"player={self.current_player} phase={self.current_phase} status={self.game_status}>"
        )


def initial_state(
    board_type: str,
    num_players: int,
    rules_options: dict[str, Any] | None = None,
    game_id: str = "",
) -> GameState:
    """R050/F-18: empty board, everyone holds the full supply, player 1 in ring_placement."""
    if board_type not in BOARD_TYPES:
        raise ValueError(f"unknown board type {board_type!r}; expected one of {BOARD_TYPES}")
    if not isinstance(num_players, int) or isinstance(num_players, bool):
        raise ValueError("num_players must be an integer")
    if not 2 <= num_players <= 4:
        raise ValueError(f"num_players must be 2-4, got {num_players}")
    options = dict(rules_options or {})
    rpp = options.get("ringsPerPlayer", RINGS_PER_PLAYER[board_type])
    if not isinstance(rpp, int) or isinstance(rpp, bool) or not 1 <= rpp <= 500:
        raise ValueError("rulesOptions.ringsPerPlayer must be an integer 1-500")
    lps = options.get("lpsRoundsRequired", 3)
    if not isinstance(lps, int) or isinstance(lps, bool) or not 1 <= lps <= 100:
        raise ValueError("rulesOptions.lpsRoundsRequired must be an integer 1-100")
    swap = options.get("swapRuleEnabled", False)
    if not isinstance(swap, bool):
        raise ValueError("rulesOptions.swapRuleEnabled must be a boolean")
    geo = geometry(board_type, DEFAULT_SIZE[board_type])
    s = _blank(geo, num_players)
    s.rules_options = options
    s.rings_per_player = rpp
    s.victory_threshold = victory_threshold(rpp, num_players)
    s.lps_required = lps
    s.swap_enabled = swap and num_players == 2
    s.hand = [0] + [rpp] * num_players
    s.game_id = game_id
    return s


def _blank(geo: Geometry, n: int) -> GameState:
    s = GameState.__new__(GameState)
    cells = geo.num_cells
    s.geo = geo
    s.num_players = n
    s.stacks = [None] * cells
    s.caps = [0] * cells
    s.markers = [0] * cells
    s.collapsed = [0] * cells
    zeros = [0] * (n + 1)
    s.hand = zeros.copy()
    s.eliminated = zeros.copy()
    s.board_eliminated = zeros.copy()
    s.territory = zeros.copy()
    s.on_board = zeros.copy()
    s.out_at = zeros.copy()
    s.current_player = 1
    s.current_phase = RING_PLACEMENT
    s.game_status = ACTIVE
    s.winner = None
    s.victory_reason = None
    s.must_move = -1
    s.chain_pos = -1
    s.pending_line_reward = False
    s.pending_region = None
    s.turn_changed = False
    s.turn_recovery = False
    s.lps_first = 0
    s.lps_mask = (False,) * (n + 1)
    s.lps_streak = 0
    s.lps_holder = 0
    s.lps_required = 3
    s.rings_per_player = RINGS_PER_PLAYER[geo.board_type]
    s.victory_threshold = victory_threshold(s.rings_per_player, n)
    s.territory_minimum = territory_minimum(cells, n)
    s.territory_threshold = legacy_territory_threshold(cells)
    s.line_len = line_length(geo.board_type, n)
    s.swap_enabled = False
    s.rules_options = {}
    s.history = ()
    s.moves_made = 0
    s.last_mover = 0
    s.withdrawn = ()
    s.moved_mask = 0
    s.game_id = ""
    s.turn_number = 1
    s._legal_cache = None
    return s


def _int(value: Any, field: str, lo: int = 0, hi: int = 10_000) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise WireFormatError(f"{field} must be an integer in [{lo}, {hi}]")
    return value


def _cell(geo: Geometry, coord: Coord, field: str) -> int:
    if geo.is_hex and len(coord) == 2:
        coord = (coord[0], coord[1], -coord[0] - coord[1])
    cell = geo.cell_of(coord)
    if cell is None:
        raise WireFormatError(f"{field} {coord_key(coord)} is off the {geo.board_type} board")
    return cell


def _key_cell(geo: Geometry, key: Any, field: str) -> int:
    if not isinstance(key, str):
        raise WireFormatError(f"{field} keys must be strings")
    cell = geo.cell_of_key(key.replace(" ", ""))
    if cell is None:
        raise WireFormatError(f"{field} key {key!r} is not a cell of the {geo.board_type} board")
    return cell


def _load(data: Any) -> GameState:
    if not isinstance(data, dict):
        raise WireFormatError("game state must be a JSON object")
    board = data.get("board")
    if not isinstance(board, dict):
        raise WireFormatError("state.board must be an object")
    board_type = board.get("type", data.get("boardType"))
    if board_type not in BOARD_TYPES:
        raise WireFormatError(f"unknown board type {board_type!r}")
    size = board.get("size", DEFAULT_SIZE[board_type])
    try:
        geo = geometry(board_type, size)
    except ValueError as exc:
        raise WireFormatError(str(exc)) from None
    players = data.get("players")
    if not isinstance(players, list) or not players:
        raise WireFormatError("state.players must be a non-empty list")
    numbers = [p.get("playerNumber") if isinstance(p, dict) else None for p in players]
    n = max(_int(v, "players[].playerNumber", 1, 4) for v in numbers)
    n = max(n, 2)
    s = _blank(geo, n)
    options = data.get("rulesOptions") or {}
    if not isinstance(options, dict):
        raise WireFormatError("state.rulesOptions must be an object")
    s.rules_options = dict(options)
    rpp = options.get("ringsPerPlayer", RINGS_PER_PLAYER[board_type])
    s.rings_per_player = _int(rpp, "rulesOptions.ringsPerPlayer", 1, 500)
    s.swap_enabled = bool(options.get("swapRuleEnabled", False)) and n == 2

    for p in players:
        num = p["playerNumber"]
        s.hand[num] = _int(p.get("ringsInHand", 0), "players[].ringsInHand")
        s.eliminated[num] = _int(p.get("eliminatedRings", 0), "players[].eliminatedRings")
        s.territory[num] = _int(p.get("territorySpaces", 0), "players[].territorySpaces")

    stacks = board.get("stacks") or {}
    markers = board.get("markers") or {}
    collapsed = board.get("collapsedSpaces") or {}
    for name, obj in (("stacks", stacks), ("markers", markers), ("collapsedSpaces", collapsed)):
        if not isinstance(obj, dict):
            raise WireFormatError(f"board.{name} must be an object")
    for key, st in stacks.items():
        cell = _key_cell(geo, key, "board.stacks")
        if not isinstance(st, dict) or not isinstance(st.get("rings"), list) or not st["rings"]:
            raise WireFormatError(f"board.stacks[{key!r}].rings must be a non-empty list")
        rings = tuple(_int(r, f"board.stacks[{key!r}].rings[]", 1, n) for r in st["rings"])
        s.stacks[cell] = rings
        s.caps[cell] = cap_height(rings)
        for r in rings:
            s.on_board[r] += 1
    for key, mk in markers.items():
        cell = _key_cell(geo, key, "board.markers")
        owner = mk.get("player") if isinstance(mk, dict) else mk
        s.markers[cell] = _int(owner, f"board.markers[{key!r}].player", 1, n)
    for key, owner in collapsed.items():
        cell = _key_cell(geo, key, "board.collapsedSpaces")
        s.collapsed[cell] = _int(owner, f"board.collapsedSpaces[{key!r}]", 1, n)
    for cell in range(geo.num_cells):
        occupied = (s.stacks[cell] is not None) + bool(s.markers[cell]) + bool(s.collapsed[cell])
        if occupied > 1:
            raise WireFormatError(
                f"cell {geo.keys[cell]} holds more than one of stack/marker/collapsed"
            )
    elim = board.get("eliminatedRings")
    if isinstance(elim, dict):
        for key, count in elim.items():
            try:
                p = int(key)
            except ValueError:
                raise WireFormatError("board.eliminatedRings keys must be player numbers") from None
            if 1 <= p <= n:
                s.board_eliminated[p] = _int(count, "board.eliminatedRings[]")
    else:
        s.board_eliminated = s.eliminated.copy()

    s.current_player = _int(data.get("currentPlayer", 1), "state.currentPlayer", 1, n)
    phase = data.get("currentPhase", RING_PLACEMENT)
    if phase not in PHASES:
        raise WireFormatError(f"unknown phase {phase!r}")
    s.current_phase = phase
    status = data.get("gameStatus", ACTIVE)
    if status not in (ACTIVE, COMPLETED, "waiting"):
        raise WireFormatError(f"unsupported gameStatus {status!r}")
    s.game_status = COMPLETED if status == COMPLETED else ACTIVE
    winner = data.get("winner")
    s.winner = None if winner is None else _int(winner, "state.winner", 1, n)
    s.victory_reason = data.get("victoryReason")
    s.turn_number = _int(data.get("turnNumber", 1), "state.turnNumber", 0, 1_000_000)
    s.game_id = str(data.get("gameId", ""))
    s.victory_threshold = _int(
        data.get("victoryThreshold", victory_threshold(s.rings_per_player, n)),
        "state.victoryThreshold",
        1,
        100_000,
    )
    s.territory_threshold = _int(
        data.get("territoryVictoryThreshold", legacy_territory_threshold(geo.num_cells)),
        "state.territoryVictoryThreshold",
        1,
        100_000,
    )
    minimum = data.get("territoryVictoryMinimum")
    # Decision: states with only the legacy threshold get the computed R062 minimum.
    s.territory_minimum = (
        territory_minimum(geo.num_cells, n)
        if minimum is None
        else _int(minimum, "state.territoryVictoryMinimum", 1, 100_000)
    )
    s.line_len = line_length(board_type, n)
    s.lps_required = _int(
        data.get("lpsRoundsRequired", options.get("lpsRoundsRequired", 3)),
        "state.lpsRoundsRequired",
        1,
        100,
    )

    mm = data.get("mustMoveFromStackKey")
    s.must_move = -1 if mm is None else _key_cell(geo, mm, "state.mustMoveFromStackKey")
    chain = data.get("chainCapturePosition")
    if chain is not None:
        s.chain_pos = _cell(
            geo, parse_position(chain, "chainCapturePosition"), "chainCapturePosition"
        )
    s.pending_line_reward = bool(data.get("pendingLineRewardElimination", False))
    pending = data.get("pendingTerritoryElimination")
    if pending is not None:
        if not isinstance(pending, list):
            raise WireFormatError("state.pendingTerritoryElimination must be a list of positions")
        s.pending_region = tuple(
            _cell(geo, parse_position(p, "pendingTerritoryElimination[]"), "region cell")
            for p in pending
        )

    history_json = data.get("moveHistory") or []
    if not isinstance(history_json, list):
        raise WireFormatError("state.moveHistory must be a list")
    s.history = tuple(Move.from_json(m) for m in history_json)
    # The summary of the past: explicit fields when given (a position stored without its
    # history), else derived from the history.
    s.moves_made = _int(data.get("moveCount", len(s.history)), "state.moveCount", 0, 10_000_000)
    last = data.get("lastMover", s.history[-1].player if s.history else 0)
    s.last_mover = _int(last, "state.lastMover", 0, n)
    moved = data.get("playersMoved")
    if moved is None:
        moved = [m.player for m in s.history]
    if not isinstance(moved, list):
        raise WireFormatError("state.playersMoved must be a list of player numbers")
    for p in moved:
        s.moved_mask |= 1 << _int(p, "state.playersMoved[]", 1, n)
    withdrawn = data.get("withdrawnSeats", [])
    if not isinstance(withdrawn, list):
        raise WireFormatError("state.withdrawnSeats must be a list of player numbers")
    s.withdrawn = tuple(_int(p, "state.withdrawnSeats[]", 1, n) for p in withdrawn)
    if len(set(s.withdrawn)) != len(s.withdrawn):
        raise WireFormatError("state.withdrawnSeats names a seat twice")
    if "turnHadBoardChange" in data:
        s.turn_changed = bool(data["turnHadBoardChange"])
        s.turn_recovery = bool(data.get("turnHadRecovery", False))
    else:
        # F-06: "this turn" is the unbroken run of newest history entries by the current player.
        for m in reversed(s.history):
            if m.player != s.current_player:
                break
            if m.type not in BOOKKEEPING_TYPES:
                s.turn_changed = True
            if m.type == RECOVERY_SLIDE:
                s.turn_recovery = True
    lps = data.get("lpsState")
    if isinstance(lps, dict):
        s.lps_first = _int(lps.get("roundFirstPlayer", 0), "lpsState.roundFirstPlayer", 0, n)
        mask = [False] * (n + 1)
        for p in lps.get("actionMask", []):
            mask[_int(p, "lpsState.actionMask[]", 1, n)] = True
        s.lps_mask = tuple(mask)
        s.lps_streak = _int(lps.get("exclusiveStreak", 0), "lpsState.exclusiveStreak")
        s.lps_holder = _int(lps.get("streakHolder", 0), "lpsState.streakHolder", 0, n)
    out_at = data.get("eliminatedAtMove")
    if isinstance(out_at, dict):
        for key, value in out_at.items():
            p = int(key)
            if 1 <= p <= n:
                s.out_at[p] = _int(value, "eliminatedAtMove[]", 0, 10_000_000)
    return s
