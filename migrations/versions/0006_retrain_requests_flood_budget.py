"""Retrain requests: an admin's /retrain taken by a replica that does not lead, run by the
leader. Flood budget: Telegram's limits shared by the replicas, one row per limit and window.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retrain_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("taken_by", sa.String(length=32), nullable=True),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_requests")),
    )
    op.create_index(op.f("ix_retrain_requests_status"), "retrain_requests", ["status"])
    op.create_table(
        "flood_budget",
        sa.Column("key", sa.String(length=48), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_flood_budget")),
    )


def downgrade() -> None:
    op.drop_table("flood_budget")
    op.drop_index(op.f("ix_retrain_requests_status"), table_name="retrain_requests")
    op.drop_table("retrain_requests")
