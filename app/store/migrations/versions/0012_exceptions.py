"""the exception inbox: one exception per (shipment, family), its timeline, early clearings

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.store.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = app.store.models.UTCDateTime
INBOX_ORDER = ["severity_rank", "opened_at", "id"]


def upgrade() -> None:
    op.create_table(
        "shipment_exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", AutoString(length=64), nullable=False),
        sa.Column("family", AutoString(length=32), nullable=False),
        sa.Column("severity", AutoString(length=16), nullable=False),
        sa.Column("severity_rank", sa.Integer(), nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("recurrences", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", AutoString(length=64), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("assignee", AutoString(length=64), nullable=True),
        sa.Column("snoozed_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", AutoString(length=240), nullable=True),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("markers", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("escalated_for", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_for", UTCDateTime(timezone=True), nullable=True),
        sa.Column("notices", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shipment_id", "family", name="uq_shipment_exception_family"),
    )
    op.create_index("ix_shipment_exception_inbox", "shipment_exception", INBOX_ORDER)
    for column in ("state", "family", "assignee"):
        op.create_index(
            f"ix_shipment_exception_{column}_inbox", "shipment_exception", [column, *INBOX_ORDER]
        )
    op.create_table(
        "exception_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exception_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("who", AutoString(length=240), nullable=False),
        sa.Column("what", AutoString(length=64), nullable=False),
        sa.Column("note", AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_exception_entry_exception", "exception_entry", ["exception_id", "id"])
    op.create_table(
        "exception_early_clearing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", AutoString(length=64), nullable=False),
        sa.Column("family", AutoString(length=32), nullable=False),
        sa.Column("event_id", AutoString(length=200), nullable=False),
        sa.Column("stamp", AutoString(length=240), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shipment_id", "family", "event_id", name="uq_exception_early_clearing"),
    )


def downgrade() -> None:
    op.drop_table("exception_early_clearing")
    op.drop_index("ix_exception_entry_exception", table_name="exception_entry")
    op.drop_table("exception_entry")
    for column in ("assignee", "family", "state"):
        op.drop_index(f"ix_shipment_exception_{column}_inbox", table_name="shipment_exception")
    op.drop_index("ix_shipment_exception_inbox", table_name="shipment_exception")
    op.drop_table("shipment_exception")
