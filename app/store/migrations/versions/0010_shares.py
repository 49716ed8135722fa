"""share links to a shipment's tracking page; an audience on recipients and subscriptions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.store.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = app.store.models.UTCDateTime
ALERTS_LINK = sa.text("purpose = 'alerts' AND nonce IS NOT NULL AND revoked_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", AutoString(length=64), nullable=False),
        sa.Column("shipment_id", AutoString(length=64), nullable=False),
        sa.Column("purpose", AutoString(length=10), nullable=False),
        sa.Column("nonce", AutoString(length=32), nullable=True),
        sa.Column("created_by", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", AutoString(length=64), nullable=True),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("last_viewed_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_share_shipment_id", "share", ["shipment_id"])
    op.create_index(
        "ux_share_alerts",
        "share",
        ["shipment_id"],
        unique=True,
        sqlite_where=ALERTS_LINK,
        postgresql_where=ALERTS_LINK,
    )
    for table in ("recipient", "subscription"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    "audience", AutoString(length=10), nullable=False, server_default="internal"
                )
            )


def downgrade() -> None:
    for table in ("subscription", "recipient"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("audience")
    op.drop_index("ux_share_alerts", table_name="share")
    op.drop_index("ix_share_shipment_id", table_name="share")
    op.drop_table("share")
