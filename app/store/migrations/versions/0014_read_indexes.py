"""indexes for the lists: each filter of the event log and the shipments with the lists' order

Each list answers newest first, then by id; an index on (filter, time, id) hands a page over in
that order from the cursor on, so a page reads as many entries as it shows. They replace the
one-column indexes on the same leading column, which they serve as well.

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

# (table, the one-column index replaced, its column, the new index, its columns)
REPLACED: tuple[tuple[str, str, str, str, list[str]], ...] = (
    (
        "event",
        "ix_event_received_at",
        "received_at",
        "ix_event_received",
        ["received_at", "event_id"],
    ),
    (
        "event",
        "ix_event_type",
        "type",
        "ix_event_type_received",
        ["type", "received_at", "event_id"],
    ),
    (
        "event",
        "ix_event_status",
        "status",
        "ix_event_status_received",
        ["status", "received_at", "event_id"],
    ),
    (
        "event",
        "ix_event_shipment_id",
        "shipment_id",
        "ix_event_shipment_received",
        ["shipment_id", "received_at", "event_id"],
    ),
    (
        "shipment",
        "ix_shipment_updated_at",
        "updated_at",
        "ix_shipment_updated",
        ["updated_at", "id"],
    ),
    (
        "shipment",
        "ix_shipment_status",
        "status",
        "ix_shipment_status_updated",
        ["status", "updated_at", "id"],
    ),
)


def upgrade() -> None:
    for table, old, _, new, columns in REPLACED:
        op.create_index(new, table, columns)
        op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, old_column, new, _ in reversed(REPLACED):
        op.create_index(old, table, [old_column])
        op.drop_index(new, table_name=table)
