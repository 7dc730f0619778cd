"""Game clocks: each game's clock state and the deadline of its running clock.

``games.clocks`` holds ``Clocks.to_store()`` (each seat's bank, the running seat and since when
it runs); ``games.clock_deadline_ms`` is when the running seat's flag falls (epoch ms, NULL when
no clock runs), indexed so the flag sweep finds overdue games without a scan. Games that were
active before this revision have no clocks and stay untimed.

Revision ID: 0005_clocks
Revises: 0004_matchmaking
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_clocks"
down_revision: str | None = "0004_matchmaking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("games") as batch:
        batch.add_column(sa.Column("clocks", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("clock_deadline_ms", sa.BigInteger(), nullable=True))
    op.create_index("ix_games_clock_deadline", "games", ["clock_deadline_ms"])


def downgrade() -> None:
    op.drop_index("ix_games_clock_deadline", table_name="games")
    with op.batch_alter_table("games") as batch:
        batch.drop_column("clock_deadline_ms")
        batch.drop_column("clocks")
