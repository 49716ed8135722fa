"""the exception changes a person made whose watch workflow has not heard of them yet

A person's action marks its exception here in the action's own transaction; the web process
forgets the mark once the exception's watch is told, and its relay tells what is still marked
once Temporal answers again (`app.store.untold_watches`, `app.ingest.watch_relay`).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 14:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.store.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTCDateTime = app.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "exception_watch_untold",
        sa.Column("exception_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("since", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exception_id"),
    )
    op.create_index("ix_exception_watch_untold_since", "exception_watch_untold", ["since"])


def downgrade() -> None:
    op.drop_index("ix_exception_watch_untold_since", table_name="exception_watch_untold")
    op.drop_table("exception_watch_untold")
