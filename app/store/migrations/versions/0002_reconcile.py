"""reconcile: the reconcile_run table and event.source

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 20:10:35.035060
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.store.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconcile_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trigger", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("since", app.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", app.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.Column("known", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=True),
        sa.Column("started_at", app.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=240), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id"),
    )
    with op.batch_alter_table("reconcile_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconcile_run_started_at"), ["started_at"], unique=False
        )

    # A nullable column: SQLite adds it in place (no table copy), PostgreSQL without a rewrite.
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("source")

    with op.batch_alter_table("reconcile_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconcile_run_started_at"))

    op.drop_table("reconcile_run")
