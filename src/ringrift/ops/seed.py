"""Bulk seeding of realistic data straight into the database (``ringrift backup seed``).

For measurements of backup/verify at scale, going through the HTTP API would take hours, so
this writes rows directly: users (one real argon2id hash shared by all, so seeded accounts can
log in with ``SEED_PASSWORD``), 2-player games whose stored state and move list come from real
engine playouts (10-40 moves each, every move legal, every ``state_hash`` correct), and their
seats. PostgreSQL uses ``COPY``; SQLite uses ``executemany``. The database must be migrated.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ringrift.ops.backup import BackupError, engine_of, libpq_dsn, redact, sqlite_path
from ringrift.rules import apply_move, legal_moves, new_game

SEED_PASSWORD = "seeded-Password-1"
TRAJECTORIES = 96
BATCH_GAMES = 2000

USER_COLUMNS = [
    "id",
    "email",
    "username",
    "username_lower",
    "password_hash",
    "token_version",
    "rating",
    "rated_games",
    "games_played",
    "wins",
    "losses",
    "draws",
    "failed_login_count",
    "last_failed_login_at",
    "locked_until",
    "last_login_at",
    "created_at",
    "updated_at",
    "email_verified_at",
    "role",
]
GAME_COLUMNS = [
    "id",
    "board_type",
    "max_players",
    "status",
    "is_rated",
    "is_private",
    "seed",
    "time_control",
    "rules_options",
    "creator_id",
    "version",
    "state",
    "current_player",
    "winner_seat",
    "end_reason",
    "created_at",
    "updated_at",
    "started_at",
    "ended_at",
]
SEAT_COLUMNS = [
    "id",
    "game_id",
    "seat",
    "user_id",
    "is_ai",
    "ai_level",
    "resigned",
    "final_rank",
    "rating_before",
    "rating_after",
    "joined_at",
]
MOVE_COLUMNS = [
    "id",
    "game_id",
    "move_number",
    "player",
    "move",
    "user_id",
    "is_ai",
    "source",
    "state_hash",
    "created_at",
]


def _trajectory(rng: random.Random) -> list[tuple[dict[str, Any], int, str, dict[str, Any]]]:
    """One playout of up to 40 moves: (move json, player, state hash after, state json after)."""
    state = new_game("square8", 2)
    steps = []
    for _ in range(40):
        moves = legal_moves(state)
        if not moves:
            break
        move = rng.choice(moves)
        state = apply_move(state, move)
        steps.append((move.to_json(), int(move.player), state.state_hash(), state.to_json()))
    return steps


def _password_hash() -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(SEED_PASSWORD)


def generate(
    games: int, users: int, seed: int, progress: Callable[[str], None]
) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Yield (table, rows) batches in dependency order."""
    rng = random.Random(seed)
    progress(f"playing {TRAJECTORIES} engine playouts")
    trajectories = [_trajectory(rng) for _ in range(TRAJECTORIES)]
    password_hash = _password_hash()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    run = uuid.uuid4().hex[:6]
    user_ids = [str(uuid.uuid4()) for _ in range(users)]
    batch: list[tuple[Any, ...]] = []
    for index, user_id in enumerate(user_ids):
        name = f"s{run}{index}"
        created = base + timedelta(minutes=index)
        batch.append(
            (
                user_id,
                f"{name}@example.com",
                name,
                name.lower(),
                password_hash,
                0,
                round(1500 + rng.gauss(0, 120), 2),
                0,
                rng.randint(0, 50),
                0,
                0,
                0,
                0,
                None,
                None,
                None,
                created,
                created,
                created,  # seeded accounts count as verified (they play rated games)
                "player",
            )
        )
        if len(batch) >= 10_000:
            yield "users", batch
            batch = []
    if batch:
        yield "users", batch
    for start in range(0, games, BATCH_GAMES):
        game_rows, seat_rows, move_rows = [], [], []
        for number in range(start, min(games, start + BATCH_GAMES)):
            steps = rng.choice(trajectories)
            length = min(len(steps), rng.randint(10, 40))
            players = rng.sample(user_ids, 2)
            game_id = str(uuid.uuid4())
            created = base + timedelta(seconds=number * 7)
            state = steps[length - 1][3]
            status = state.get("gameStatus", "active")
            status = "completed" if status == "completed" else "active"
            game_rows.append(
                (
                    game_id,
                    "square8",
                    2,
                    status,
                    False,
                    False,
                    rng.randint(0, 2**31 - 1),
                    None,
                    None,
                    players[0],
                    length,
                    json.dumps(state),
                    state.get("currentPlayer"),
                    None,
                    None,
                    created,
                    created + timedelta(seconds=length * 5),
                    created,
                    created + timedelta(seconds=length * 5) if status == "completed" else None,
                )
            )
            for seat, user_id in enumerate(players, start=1):
                seat_rows.append(
                    (
                        str(uuid.uuid4()),
                        game_id,
                        seat,
                        user_id,
                        False,
                        None,
                        False,
                        None,
                        None,
                        None,
                        created,
                    )
                )
            for move_number, (move, player, state_hash, _state) in enumerate(
                steps[:length], start=1
            ):
                move_rows.append(
                    (
                        str(uuid.uuid4()),
                        game_id,
                        move_number,
                        player,
                        json.dumps(move),
                        players[player - 1],
                        False,
                        "human",
                        state_hash,
                        created + timedelta(seconds=move_number * 5),
                    )
                )
        yield "games", game_rows
        yield "game_seats", seat_rows
        yield "moves", move_rows
        progress(f"generated {min(games, start + BATCH_GAMES):,}/{games:,} games")


COLUMNS = {
    "users": USER_COLUMNS,
    "games": GAME_COLUMNS,
    "game_seats": SEAT_COLUMNS,
    "moves": MOVE_COLUMNS,
}


async def _seed_pg(url: str, batches: Iterator[tuple[str, list[tuple[Any, ...]]]]) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(libpq_dsn(url), timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise BackupError(f"cannot connect to {redact(url)}: {error}") from error
    try:
        for table, rows in batches:
            await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
    except asyncpg.UndefinedTableError as error:
        raise BackupError(
            f"the database is not migrated ({error}); run `ringrift db upgrade`"
        ) from error
    finally:
        await conn.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value


def _seed_sqlite(url: str, batches: Iterator[tuple[str, list[tuple[Any, ...]]]]) -> None:
    path = sqlite_path(url)
    if not path.exists():
        raise BackupError(f"SQLite database {path} does not exist; run `ringrift db upgrade`")
    conn = sqlite3.connect(path)
    try:
        for table, rows in batches:
            columns = COLUMNS[table]
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                f"({', '.join('?' for _ in columns)})",
                [tuple(_sqlite_value(v) for v in row) for row in rows],
            )
        conn.commit()
    except sqlite3.OperationalError as error:
        raise BackupError(f"cannot seed {path}: {error}") from error
    finally:
        conn.close()


def seed_database(
    url: str,
    *,
    games: int,
    users: int | None = None,
    seed: int = 1,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Insert ``games`` games (and ``users`` users, default games/10) with their moves."""
    engine = engine_of(url)
    users = users or max(2, games // 10)
    counts = {"users": 0, "games": 0, "game_seats": 0, "moves": 0}
    started = time.monotonic()

    def counted() -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        for table, rows in generate(games, users, seed, progress):
            counts[table] += len(rows)
            yield table, rows

    if engine == "postgresql":
        asyncio.run(_seed_pg(url, counted()))
    else:
        _seed_sqlite(url, counted())
    return {
        "users": counts["users"],
        "games": counts["games"],
        "seats": counts["game_seats"],
        "moves": counts["moves"],
        "seconds": round(time.monotonic() - started, 2),
    }
