"""Replicas: the bot processes sharing this database, each with a heartbeat, the model versions
it serves and its load; a process whose heartbeat is stale is dead, and its unanswered messages
are taken over by the others.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replicas",
        sa.Column("instance", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=True),
        sa.Column("failed_versions", sa.JSON(), nullable=True),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.Column("handled", sa.BigInteger(), nullable=False),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_replicas")),
    )


def downgrade() -> None:
    op.drop_table("replicas")
