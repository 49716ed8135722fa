"""indexes in the CSV exports' order: each filter of an export reads its rows off one range

The event export filters on status, type or shipment (and a received_at range) and orders by
(received_at, event_id) newest first; the shipment export filters on status and orders by
(updated_at, id) newest first. Each index below is a filter's equality column, then that order,
so an export reads its rows straight off one index range (no sort of every matching row first,
and nothing outside a time range); `tests/unit/test_flat_read_plans.py` checks the plans.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

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


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
