"""Forgotten pairs: fingerprints of pairs made from a forgotten user's words, removed from every
answer bank before it serves.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forgotten_pairs",
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("task", "fingerprint", name=op.f("pk_forgotten_pairs")),
    )


def downgrade() -> None:
    op.drop_table("forgotten_pairs")
