"""flat reads: the exports' indexes in their order, the reconcile runs' tally for /metrics

The event export filters on status, type or shipment (and a received_at range) and orders by
(received_at, event_id) newest first; the shipment export filters on status and orders by
(updated_at, id) newest first. Each index below is a filter's equality column, then that order,
so an export reads its rows straight off one index range (no sort of every matching row first,
and nothing outside a time range); `tests/unit/test_flat_read_plans.py` checks the plans.

`reconcile_tally` holds the reconcile runs' totals per (trigger, outcome) that the metrics
used to count over every run at each refresh (35,000 runs a year at the default 15 minutes),
filled here from the runs already stored and kept by `app.store.reconcile_runs.record_run`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.store.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("ix_event_received_order", "event", ["received_at", "event_id"]),
    ("ix_event_status_received", "event", ["status", "received_at", "event_id"]),
    ("ix_event_type_received", "event", ["type", "received_at", "event_id"]),
    ("ix_event_shipment_received", "event", ["shipment_id", "received_at", "event_id"]),
    ("ix_shipment_updated_order", "shipment", ["updated_at", "id"]),
    ("ix_shipment_status_updated", "shipment", ["status", "updated_at", "id"]),
)


AutoString = sqlmodel.sql.sqltypes.AutoString
BACKFILL = sa.text(
    'INSERT INTO reconcile_tally ("trigger", outcome, runs, started, last_finished_at)'
    ' SELECT "trigger", outcome, count(*), coalesce(sum(started), 0), max(finished_at)'
    ' FROM reconcile_run GROUP BY "trigger", outcome'
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "reconcile_tally",
        sa.Column("trigger", AutoString(length=20), nullable=False),
        sa.Column("outcome", AutoString(length=20), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column(
            "last_finished_at", app.store.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("trigger", "outcome"),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("reconcile_tally")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
