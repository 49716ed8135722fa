"""ops incidents: the ops_incident table (ops alerts once per incident, and its recovery)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.store.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ops_incident",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=240), nullable=False),
        sa.Column("opened_at", app.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("alerted_at", app.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recovered_at", app.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "recovery_alerted_at", app.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("ops_incident")
