"""Invite tokens of private games, rematch offers, and ``games.rematch_of``.

Revision ID: 0007_invites
Revises: 0006_presence
Create Date: 2026-11-30
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_invites"
down_revision: str | None = "0006_presence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("games", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invite_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("rematch_of", sa.String(length=36), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_games_rematch_of"), ["rematch_of"])
        batch_op.create_foreign_key(
            batch_op.f("fk_games_rematch_of_games"),
            "games",
            ["rematch_of"],
            ["id"],
            ondelete="SET NULL",
        )
    # Private games that still take players get a token, so their players can invite.
    games = sa.table(
        "games",
        sa.column("id", sa.String),
        sa.column("is_private", sa.Boolean),
        sa.column("status", sa.String),
        sa.column("invite_token", sa.String),
    )
    bind = op.get_bind()
    ids = bind.execute(
        sa.select(games.c.id).where(
            games.c.is_private.is_(True), games.c.status.in_(["waiting", "active"])
        )
    ).scalars()
    for game_id in list(ids):
        bind.execute(
            games.update()
            .where(games.c.id == game_id)
            .values(invite_token=secrets.token_urlsafe(24))
        )
    op.create_table(
        "rematch_offers",
        sa.Column("game_id", sa.String(length=36), nullable=False),
        sa.Column("offered_by", sa.String(length=36), nullable=True),
        sa.Column("accepted", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("declined_by", sa.String(length=36), nullable=True),
        sa.Column("new_game_id", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["game_id"],
            ["games.id"],
            name=op.f("fk_rematch_offers_game_id_games"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offered_by"],
            ["users.id"],
            name=op.f("fk_rematch_offers_offered_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("game_id", name=op.f("pk_rematch_offers")),
    )


def downgrade() -> None:
    op.drop_table("rematch_offers")
    with op.batch_alter_table("games", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_games_rematch_of_games"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_games_rematch_of"), type_="unique")
        batch_op.drop_column("rematch_of")
        batch_op.drop_column("invite_token")
