"""Positions without history: ``games.state`` drops ``moveHistory`` (the moves table is the
history) and keeps the three summary fields the rules need; replays read ``game_snapshots``.

Revision ID: 0003_positions
Revises: 0002_accounts
Create Date: 2026-11-30

The conversion is plain JSON (no rules engine import): ``moveCount`` = history length,
``lastMover`` = player of the last move, ``playersMoved`` = the players who moved. Games are
converted in batches; no snapshots are back-filled (a replay of an old game starts from its
initial position). The downgrade rebuilds ``moveHistory`` from the moves table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003_positions"
down_revision: str | None = "0002_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 200

games = sa.table(
    "games",
    sa.column("id", sa.String(36)),
    sa.column("state", sa.JSON()),
)
moves = sa.table(
    "moves",
    sa.column("game_id", sa.String(36)),
    sa.column("move_number", sa.Integer()),
    sa.column("move", sa.JSON()),
)


def _as_dict(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else None


def strip_history(state: dict[str, Any]) -> dict[str, Any]:
    """The history-free form of a stored state (unchanged when it is already history-free)."""
    history = state.get("moveHistory")
    out = {k: v for k, v in state.items() if k != "moveHistory"}
    if not isinstance(history, list):
        return out
    players: list[int] = [
        m["player"] for m in history if isinstance(m, dict) and isinstance(m.get("player"), int)
    ]
    out.setdefault("moveCount", len(history))
    out.setdefault("lastMover", players[-1] if players else 0)
    out.setdefault("playersMoved", sorted(set(players)))
    return out


def _batches(connection: sa.Connection) -> Any:
    last = ""
    while True:
        rows = connection.execute(
            sa.select(games.c.id, games.c.state)
            .where(games.c.id > last)
            .order_by(games.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def upgrade() -> None:
    op.create_table(
        "game_snapshots",
        sa.Column("game_id", sa.String(length=36), nullable=False),
        sa.Column("move_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["game_id"],
            ["games.id"],
            name=op.f("fk_game_snapshots_game_id_games"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("game_id", "move_number", name=op.f("pk_game_snapshots")),
    )
    connection = op.get_bind()
    for rows in _batches(connection):
        for row in rows:
            state = _as_dict(row.state)
            if state is None or "moveHistory" not in state:
                continue
            connection.execute(
                games.update().where(games.c.id == row.id).values(state=strip_history(state))
            )


def downgrade() -> None:
    connection = op.get_bind()
    for rows in _batches(connection):
        for row in rows:
            state = _as_dict(row.state)
            if state is None or "moveHistory" in state:
                continue
            history = connection.scalars(
                sa.select(moves.c.move)
                .where(moves.c.game_id == row.id)
                .order_by(moves.c.move_number)
            ).all()
            restored = {
                k: v
                for k, v in state.items()
                if k not in ("moveCount", "lastMover", "playersMoved")
            }
            restored["moveHistory"] = [_as_dict(m) for m in history]
            connection.execute(games.update().where(games.c.id == row.id).values(state=restored))
    op.drop_table("game_snapshots")
