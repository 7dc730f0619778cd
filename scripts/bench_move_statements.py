"""App CPU of a move's database work, through the ORM session and on the driver.

Starts a private PostgreSQL cluster, creates one game with two seats, then commits N moves to it
sequentially, each as the move path does it:

- ``session``: ``store.load`` (ORM) + the versioned UPDATE and the move INSERT (Core) in one
  transaction of the session: BEGIN, SELECT, UPDATE, INSERT, COMMIT;
- ``direct``: ``pgmoves.load`` + ``pgmoves.advance`` on one pooled driver connection: two
  statements, no transaction.

It prints this process's CPU time and the wall time per move (the server's CPU is not counted).
Usage: ``python scripts/bench_move_statements.py [N]`` (default 2000).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from ringrift.ops.services import PostgresCluster
from ringrift.server.config import Settings
from ringrift.server.db.models import Base, Game, GameSeat, new_id, utcnow
from ringrift.server.db.session import Database
from ringrift.server.services import moves, pgmoves, store


def _values(version: int) -> dict[str, Any]:
    return {
        "version": version,
        "state": {"board": list(range(64)), "currentPlayer": 1},
        "current_player": 1,
        "updated_at": utcnow(),
    }


def _record(game_id: str, number: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "game_id": game_id,
        "move_number": number,
        "player": 1,
        "move": {"type": "place_ring", "to": {"x": 1, "y": 2}, "player": 1},
        "user_id": None,
        "is_ai": False,
        "source": "human",
        "state_hash": "0" * 40,
        "created_at": utcnow(),
    }


async def _run(url: str, count: int) -> None:
    db = Database(Settings(database_url=url))
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    game_id = new_id()
    async with db.session() as session:
        session.add(
            Game(id=game_id, board_type="square8", max_players=2, status="active", state={})
        )
        await session.flush()
        session.add_all([GameSeat(game_id=game_id, seat=n, is_ai=True) for n in (1, 2)])
        await session.commit()
    version = 0

    async def by_session() -> None:
        nonlocal version
        async with db.session() as session:
            loaded = await store.load(
                session, game_id, with_usernames=False, token_of="nobody", state=False
            )
            assert loaded is not None
            connection = await session.connection()
            values = {"where_id": game_id, "where_version": version, **_values(version + 1)}
            assert (await connection.execute(moves._ADVANCE, values)).rowcount == 1
            await connection.execute(moves._INSERT_MOVES, [_record(game_id, version + 1)])
            await session.commit()
        version += 1

    async def by_driver() -> None:
        nonlocal version
        async with db.direct() as direct:
            assert await pgmoves.load(direct, game_id, "nobody") is not None
            record = _record(game_id, version + 1)
            assert await pgmoves.advance(direct, game_id, version, _values(version + 1), [record])
        version += 1

    for name, step in (("session", by_session), ("direct", by_driver)):
        for _ in range(50):  # warm the statement caches
            await step()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await step()
        cpu_ms = (time.process_time() - cpu) / count * 1000
        wall_ms = (time.perf_counter() - wall) / count * 1000
        print(f"{name:8} app CPU {cpu_ms:.3f} ms/move, wall {wall_ms:.3f} ms/move")
    await db.dispose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with PostgresCluster() as cluster:
        asyncio.run(_run(cluster.url(), count))


if __name__ == "__main__":
    main()
