"""follow a shipment by email: the requests and their confirmation; followers' subscriptions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.store.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
UTCDateTime = app.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "follow_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", AutoString(length=64), nullable=False),
        sa.Column("email", AutoString(length=254), nullable=False),
        sa.Column("digest", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("unsubscribe_digest", AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
        sa.UniqueConstraint("unsubscribe_digest"),
    )
    op.create_index(
        "ix_follow_request_email_created", "follow_request", ["email", "created_at"]
    )
    op.create_index(
        "ix_follow_request_shipment_created", "follow_request", ["shipment_id", "created_at"]
    )
    with op.batch_alter_table("subscription") as batch:
        batch.add_column(
            sa.Column("follower", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription") as batch:
        batch.drop_column("follower")
    op.drop_index("ix_follow_request_shipment_created", table_name="follow_request")
    op.drop_index("ix_follow_request_email_created", table_name="follow_request")
    op.drop_table("follow_request")
