"""event.payload nullable: payload retention removes raw bodies and keeps the rows

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # A removed payload comes back as an empty body: the row stays, its content is gone.
    op.execute(sa.text("UPDATE event SET payload = '' WHERE payload IS NULL"))
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=False)
