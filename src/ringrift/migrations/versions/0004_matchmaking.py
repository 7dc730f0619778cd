"""Matchmaking queue: one row per waiting player, shared by every instance.

Revision ID: 0004_matchmaking
Revises: 0003_positions
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_matchmaking"
down_revision: str | None = "0003_positions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "matchmaking_entries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("board_type", sa.String(length=16), nullable=False),
        sa.Column("max_players", sa.Integer(), nullable=False),
        sa.Column("time_control", sa.String(length=16), nullable=False),
        sa.Column("is_rated", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim", sa.String(length=36), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("game_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_matchmaking_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matchmaking_entries")),
    )
    with op.batch_alter_table("matchmaking_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matchmaking_entries_user_id"), ["user_id"], unique=True
        )
        batch_op.create_index(
            "ix_matchmaking_pool",
            ["board_type", "max_players", "time_control", "is_rated"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("matchmaking_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_matchmaking_pool")
        batch_op.drop_index(batch_op.f("ix_matchmaking_entries_user_id"))
    op.drop_table("matchmaking_entries")
