"""held alerts keep their own copy: notification.alert

An alert held for quiet hours or a digest is sent later from its ledger row. Alerts decided when
an event is applied are also in that event's log entry, but an `eta_missed` (decided by the ETA
watch, long after) is in no event's: the row itself has to carry it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding a nullable column needs no table copy, on SQLite either.
    op.add_column("notification", sa.Column("alert", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("alert")
