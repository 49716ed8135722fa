"""indexes for the metrics' counts: unknown types, reconciled events, alerts by status and kind

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN_TYPE = sa.text("category = 'other'")
RECONCILED = sa.text("source = 'reconcile'")


def upgrade() -> None:
    op.create_index(
        "ix_event_unknown_type",
        "event",
        ["type", "category"],
        sqlite_where=UNKNOWN_TYPE,
        postgresql_where=UNKNOWN_TYPE,
    )
    op.create_index(
        "ix_event_reconciled",
        "event",
        ["source"],
        sqlite_where=RECONCILED,
        postgresql_where=RECONCILED,
    )
    op.create_index("ix_notification_status_kind", "notification", ["status", "kind"])


def downgrade() -> None:
    op.drop_index("ix_notification_status_kind", table_name="notification")
    op.drop_index("ix_event_reconciled", table_name="event")
    op.drop_index("ix_event_unknown_type", table_name="event")
