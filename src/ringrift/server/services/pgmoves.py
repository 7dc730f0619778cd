"""The move path's statements on PostgreSQL, run on the driver (``Database.direct``).

A move costs two statements and no transaction:

- **read**: the game row (without its position, which the position cache holds), its seats in
  order and, for a socket's move, the mover's token version, in one SELECT;
- **write**: the versioned UPDATE of the game and the INSERT of the move rows in one statement
  (a data-modifying CTE), so it commits atomically on its own. The INSERT takes its rows only
  when the UPDATE matched, so a move that lost the race for its version writes nothing, and
  ``UNIQUE(game_id, move_number)`` still guards the rows as a second line.

Under READ COMMITTED, an UPDATE that waited on a concurrent one re-checks its WHERE clause
against the row that committed, so of two moves against one version exactly one matches.

Only the common write comes here: a commit that also writes snapshots, marks a resignation or
ends the game (and so writes results) goes through the ORM session (``moves._write``). The
SELECT's columns and the INSERT's columns, array types and arguments come from the tables'
metadata, so an added column reaches them; the UPDATE sets the columns a commit changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql

from ringrift.server import codec
from ringrift.server.context import AppContext
from ringrift.server.db.direct import DirectConnection
from ringrift.server.db.models import Game, GameSeat, MoveRecord, User
from ringrift.server.domain import GameStatus
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.positions import Position
from ringrift.server.services.store import Loaded

_GAMES = cast(Table, Game.__table__)
_SEATS = cast(Table, GameSeat.__table__)
_MOVES = cast(Table, MoveRecord.__table__)
_USERS = cast(Table, User.__table__)


def _attributes(model: type[Any]) -> dict[str, str]:
    """Column name -> mapped attribute name of ``model``."""
    return {attr.columns[0].name: attr.key for attr in model.__mapper__.column_attrs}


_GAME_ATTRS = {
    column: key for column, key in _attributes(Game).items() if column != _GAMES.c.state.name
}
_SEAT_ATTRS = _attributes(GameSeat)

# Seat columns come back as ``s_<column>``, so that ``id`` and ``game_id`` do not collide.
_LOAD = (
    "SELECT "
    + ", ".join(f"g.{column}" for column in _GAME_ATTRS)
    + ", "
    + ", ".join(f"s.{column} AS s_{column}" for column in _SEAT_ATTRS)
    + f", (SELECT u.token_version FROM {_USERS.name} u WHERE u.id = $2::varchar) AS token_version"
    + f" FROM {_GAMES.name} g LEFT JOIN {_SEATS.name} s ON s.game_id = g.id"
    + " WHERE g.id = $1 ORDER BY s.seat"
)

_STATE = f"SELECT state FROM {_GAMES.name} WHERE id = $1 AND version = $2"

# The move rows travel as one array per column (``unnest``), apart from the game id and the
# commit time, which are the same for every row; JSON goes as text and is cast back.
_SHARED = {"game_id": "$1", "created_at": "$6"}
_ROWS = tuple(column.name for column in _MOVES.c if column.name not in _SHARED)
_JSON_ROWS = frozenset(column for column in _ROWS if isinstance(_MOVES.c[column].type, JSON))


def _array_type(column: str) -> str:
    if column in _JSON_ROWS:
        return "text"
    return str(_MOVES.c[column].type.compile(dialect=postgresql.dialect()))


def _advance_sql(with_clocks: bool) -> str:
    """$1 game id, $2 expected version, $3 new version, $4 position (JSON text), $5 player to
    move, $6 commit time, then one array per column of ``_ROWS``; with clocks, the clocks
    (JSON text) and their deadline after those."""
    first_array = 7
    clock_params = first_array + len(_ROWS)
    clocks = (
        f", clocks = ${clock_params}::json, clock_deadline_ms = ${clock_params + 1}"
        if with_clocks
        else ""
    )
    arrays = ", ".join(
        f"${first_array + i}::{_array_type(column)}[]" for i, column in enumerate(_ROWS)
    )
    values = [
        _SHARED.get(column) or (f"m.{column}::json" if column in _JSON_ROWS else f"m.{column}")
        for column in (c.name for c in _MOVES.c)
    ]
    return (
        f"WITH advanced AS (UPDATE {_GAMES.name}"
        f" SET version = $3, state = $4::json, current_player = $5, updated_at = $6{clocks}"
        f" WHERE id = $1 AND version = $2 AND status = '{GameStatus.ACTIVE.value}'"
        " RETURNING id)"
        f" INSERT INTO {_MOVES.name} ({', '.join(c.name for c in _MOVES.c)})"
        f" SELECT {', '.join(values)}"
        f" FROM unnest({arrays}) AS m({', '.join(_ROWS)})"
        " WHERE EXISTS (SELECT 1 FROM advanced)"
    )


_ADVANCE = {with_clocks: _advance_sql(with_clocks) for with_clocks in (False, True)}


def _new(model: type[Any], values: dict[str, Any]) -> Any:
    """A transient ``model`` instance holding ``values`` as loaded (no change history), the
    way the ORM's own loader fills one: a tenth of the constructor's cost."""
    instance = model.__mapper__.class_manager.new_instance()
    instance.__dict__.update(values)
    return instance


async def load(direct: DirectConnection, game_id: str, token_of: str | None) -> Loaded | None:
    """``store.load(..., with_usernames=False, state=False)`` in one statement on the driver:
    the game (``state`` not loaded) and its seats, transient, and ``token_of``'s token
    version when asked."""
    rows = await direct.fetch(_LOAD, game_id, token_of)
    if not rows:
        return None
    first = rows[0]
    game = _new(Game, {key: first[column] for column, key in _GAME_ATTRS.items()})
    seats = [
        _new(GameSeat, {key: row[f"s_{column}"] for column, key in _SEAT_ATTRS.items()})
        for row in rows
        if row["s_id"] is not None
    ]
    loaded = Loaded(game, seats, {})
    if token_of is not None:
        loaded.token_version = first["token_version"]
    return loaded


async def current_position(ctx: AppContext, direct: DirectConnection, game: Game) -> Position:
    """``store.current_position`` on the driver: the cached position, else the stored one at
    the loaded version (``GAME_VERSION_CONFLICT`` when the game has moved on)."""
    found = ctx.positions.get(game.id, game.version)
    if found is not None:
        return found
    rows = await direct.fetch(_STATE, game.id, game.version)
    if not rows:
        raise ApiError(ErrorCode.GAME_VERSION_CONFLICT, details={"expectedVersion": game.version})
    return ctx.positions.position(game.id, game.version, rows[0]["state"])


async def advance(
    direct: DirectConnection,
    game_id: str,
    expected_version: int,
    values: dict[str, Any],
    records: Sequence[dict[str, Any]],
) -> bool:
    """The versioned UPDATE with ``values`` (``moves.commit``'s: version, state, player to
    move, time, and the clocks of a timed game) plus ``records``, in one statement; False
    when the game is not at ``expected_version`` (or not active) any more."""
    with_clocks = "clocks" in values
    args: list[Any] = [
        game_id,
        expected_version,
        values["version"],
        codec.dumps(values["state"]),
        values["current_player"],
        values["updated_at"],
        *(
            [codec.dumps(r[column]) if column in _JSON_ROWS else r[column] for r in records]
            for column in _ROWS
        ),
    ]
    if with_clocks:
        clocks = values["clocks"]
        args += [None if clocks is None else codec.dumps(clocks), values["clock_deadline_ms"]]
    try:
        tag = await direct.execute(_ADVANCE[with_clocks], *args)
    except Exception as error:
        if _is_integrity_error(error):
            return False  # the move rows of this version exist: another move got there
        raise
    return tag == f"INSERT 0 {len(records)}"


def _is_integrity_error(error: BaseException) -> bool:
    """asyncpg's integrity violations (SQLSTATE class 23), which the ORM path sees as
    ``IntegrityError``."""
    state = getattr(error, "sqlstate", None)
    return isinstance(state, str) and state.startswith("23")
