"""shipment documents: shipment.document

Each shipment keeps the JSON document `GET /api/shipments/{id}` answers with, rebuilt whenever
the shipment, its milestones or its containers change (`app/store/documents.py`). Rows written
before this revision get theirs from `flexhook db upgrade` right after it (`fill_missing`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding a nullable column needs no table copy, on SQLite either.
    op.add_column("shipment", sa.Column("document", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shipment") as batch:
        batch.drop_column("document")
