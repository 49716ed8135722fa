"""indexes for the lists: each filter of the event log and the shipments with the lists' order

Each list answers newest first, then by id; an index on (filter, time, id) hands a page over in
that order from the cursor on, so a page reads as many entries as it shows. They replace the
one-column indexes on the same leading column, which they serve as well.

The shipment search (id or name contains the text) gets an index built for substrings: on SQLite
an FTS5 table with the trigram tokenizer over `shipment_name` (a copy of each shipment's id and
name under an INTEGER PRIMARY KEY, which VACUUM keeps, unlike the shipment's implicit rowid),
both kept by triggers; on PostgreSQL pg_trgm GIN indexes on the id and the lower-cased name.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
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


# SQLite: the search's tables and the triggers that keep them (FTS5's external-content pattern).
SQLITE_SEARCH = (
    """CREATE TABLE shipment_name (
        row INTEGER PRIMARY KEY,
        shipment_id VARCHAR(64) NOT NULL UNIQUE,
        name VARCHAR
    )""",
    """CREATE VIRTUAL TABLE shipment_name_search USING fts5(
        shipment_id, name, content='shipment_name', content_rowid='row', tokenize='trigram'
    )""",
    # An upsert: a shipment replaced (INSERT OR REPLACE, whose delete fires no trigger) keeps
    # its copy, renamed.
    """CREATE TRIGGER shipment_name_added AFTER INSERT ON shipment BEGIN
        INSERT INTO shipment_name (shipment_id, name) VALUES (new.id, new.name)
        ON CONFLICT (shipment_id) DO UPDATE SET name = excluded.name;
    END""",
    """CREATE TRIGGER shipment_name_renamed AFTER UPDATE OF name ON shipment
    WHEN new.name IS NOT old.name BEGIN
        UPDATE shipment_name SET name = new.name WHERE shipment_id = new.id;
    END""",
    """CREATE TRIGGER shipment_name_removed AFTER DELETE ON shipment BEGIN
        DELETE FROM shipment_name WHERE shipment_id = old.id;
    END""",
    """CREATE TRIGGER shipment_name_search_added AFTER INSERT ON shipment_name BEGIN
        INSERT INTO shipment_name_search (rowid, shipment_id, name)
        VALUES (new.row, new.shipment_id, new.name);
    END""",
    """CREATE TRIGGER shipment_name_search_removed AFTER DELETE ON shipment_name BEGIN
        INSERT INTO shipment_name_search (shipment_name_search, rowid, shipment_id, name)
        VALUES ('delete', old.row, old.shipment_id, old.name);
    END""",
    """CREATE TRIGGER shipment_name_search_renamed AFTER UPDATE ON shipment_name BEGIN
        INSERT INTO shipment_name_search (shipment_name_search, rowid, shipment_id, name)
        VALUES ('delete', old.row, old.shipment_id, old.name);
        INSERT INTO shipment_name_search (rowid, shipment_id, name)
        VALUES (new.row, new.shipment_id, new.name);
    END""",
    "INSERT INTO shipment_name (shipment_id, name) SELECT id, name FROM shipment",
)
SQLITE_SEARCH_DROPPED = (
    "DROP TRIGGER shipment_name_added",
    "DROP TRIGGER shipment_name_renamed",
    "DROP TRIGGER shipment_name_removed",
    "DROP TABLE shipment_name_search",
    "DROP TABLE shipment_name",
)
POSTGRESQL_SEARCH = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_shipment_id_trgm ON shipment USING gin (id gin_trgm_ops)",
    "CREATE INDEX ix_shipment_name_trgm ON shipment USING gin (lower(name) gin_trgm_ops)",
)
POSTGRESQL_SEARCH_DROPPED = ("DROP INDEX ix_shipment_name_trgm", "DROP INDEX ix_shipment_id_trgm")


def _run(statements: Sequence[str]) -> None:
    for statement in statements:
        op.execute(sa.text(statement))


def upgrade() -> None:
    for table, old, _, new, columns in REPLACED:
        op.create_index(new, table, columns)
        op.drop_index(old, table_name=table)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_SEARCH)
    elif dialect == "postgresql":
        _run(POSTGRESQL_SEARCH)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_SEARCH_DROPPED)
    elif dialect == "postgresql":
        _run(POSTGRESQL_SEARCH_DROPPED)
    for table, old, old_column, new, _ in reversed(REPLACED):
        op.create_index(old, table, [old_column])
        op.drop_index(new, table_name=table)
