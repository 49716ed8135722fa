"""the exception inbox's metrics: histogram buckets, the unresolved exceptions' partial index

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 07:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UNRESOLVED = sa.text("state != 'resolved'")
UNRESOLVED_INDEXES = {
    "ix_shipment_exception_unresolved": ["opened_at"],
    "ix_shipment_exception_unresolved_inbox": ["severity_rank", "opened_at", "id"],
    "ix_shipment_exception_unresolved_family": ["family", "severity"],
}


def upgrade() -> None:
    op.create_table(
        "exception_stats",
        sa.Column("measure", AutoString(length=16), nullable=False),
        sa.Column("le", AutoString(length=16), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("seconds_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("measure", "le"),
    )
    # All hold only the exceptions not resolved: the oldest one's opening is the first entry of
    # the first, the digest's list the first entries of the second, the open gauge a walk of
    # the third.
    for name, columns in UNRESOLVED_INDEXES.items():
        op.create_index(
            name,
            "shipment_exception",
            columns,
            sqlite_where=UNRESOLVED,
            postgresql_where=UNRESOLVED,
        )


def downgrade() -> None:
    for name in UNRESOLVED_INDEXES:
        op.drop_index(name, table_name="shipment_exception")
    op.drop_table("exception_stats")
