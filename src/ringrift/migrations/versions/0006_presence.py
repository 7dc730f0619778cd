"""Presence: when a seat's last socket went away (abandonment claims and the sweep).

Revision ID: 0006_presence
Revises: 0005_clocks
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_presence"
down_revision: str | None = "0005_clocks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("game_seats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("away_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("game_seats", schema=None) as batch_op:
        batch_op.drop_column("away_since")
