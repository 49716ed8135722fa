"""flat reads: the tallies behind /metrics (the exports' indexes came with 0014)

`reconcile_tally` holds the reconcile runs' totals per (trigger, outcome) that the metrics
used to count over every run at each refresh (35,000 runs a year at the default 15 minutes),
filled here from the runs already stored and kept by `app.store.reconcile_runs.record_run`.

`ix_ops_incident_open` holds the open ops incidents alone, which /metrics counts; the table
keeps a closed row for every event that ever failed.

`event_tally` counts the logged events that never settle (failed and ignored ones by status,
unknown types by type, reconciled ones), which the metrics used to count entry by entry in their
indexes at each refresh, growing with the log. Triggers on `event` keep it in the transaction of
every write to the log, whoever writes (the projection, the spool, redrive, reconciliation, a
bulk insert). Each change is an upsert adding +1 or -1 to its row: atomic on PostgreSQL under
concurrent writers (INSERT ... ON CONFLICT DO UPDATE locks the row). Queued and processing
events are not tallied (every event passes through them, so their rows would be every writer's
hot spot); they are the working set, counted from `ix_event_status_received`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.store.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoString = sqlmodel.sql.sqltypes.AutoString
BACKFILL = sa.text(
    'INSERT INTO reconcile_tally ("trigger", outcome, runs, started, last_finished_at)'
    ' SELECT "trigger", outcome, count(*), coalesce(sum(started), 0), max(finished_at)'
    ' FROM reconcile_run GROUP BY "trigger", outcome'
)

# What the tally counts of one row; `{row}` is NEW or OLD, `{sign}` 1 or -1.
TALLIED = (
    ("'status'", "{row}.status", "{row}.status IN ('failed', 'ignored')"),
    ("'unknown_type'", "{row}.type", "{row}.category = 'other'"),
    ("'reconciled'", "''", "{row}.source = 'reconcile'"),
)
ANY_TALLIED = "({row}.status IN ('failed', 'ignored') OR {row}.category = 'other'" + (
    " OR {row}.source = 'reconcile')"
)
UPSERT = (
    "INSERT INTO event_tally (metric, label, n) SELECT {metric}, {label}, {sign} WHERE {when}"
    " ON CONFLICT (metric, label) DO UPDATE SET n = event_tally.n + excluded.n;"
)
BACKFILL_EVENTS = (
    "INSERT INTO event_tally (metric, label, n)"
    " SELECT 'status', status, count(*) FROM event WHERE status IN ('failed', 'ignored')"
    " GROUP BY status"
    " UNION ALL SELECT 'unknown_type', type, count(*) FROM event WHERE category = 'other'"
    " GROUP BY type"
    " UNION ALL SELECT 'reconciled', '', count(*) FROM event WHERE source = 'reconcile'"
    " HAVING count(*) > 0"
)


def _upserts(row: str, sign: int) -> str:
    return "\n".join(
        UPSERT.format(
            metric=metric, label=label.format(row=row), sign=sign, when=when.format(row=row)
        )
        for metric, label, when in TALLIED
    )


def _sqlite_triggers() -> list[str]:
    changed = "OLD.status IS NOT NEW.status OR OLD.source IS NOT NEW.source"
    return [
        "CREATE TRIGGER event_tally_insert AFTER INSERT ON event"
        f" WHEN {ANY_TALLIED.format(row='NEW')} BEGIN {_upserts('NEW', 1)} END",
        "CREATE TRIGGER event_tally_update AFTER UPDATE OF status, source ON event"
        f" WHEN {changed} BEGIN {_upserts('OLD', -1)} {_upserts('NEW', 1)} END",
        "CREATE TRIGGER event_tally_delete AFTER DELETE ON event"
        f" WHEN {ANY_TALLIED.format(row='OLD')} BEGIN {_upserts('OLD', -1)} END",
    ]


def _postgresql_triggers() -> list[str]:
    changed = "OLD.status IS DISTINCT FROM NEW.status OR OLD.source IS DISTINCT FROM NEW.source"
    return [
        "CREATE FUNCTION event_tally_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF TG_OP IN ('UPDATE', 'DELETE') THEN {_upserts('OLD', -1)} END IF;"
        f" IF TG_OP IN ('INSERT', 'UPDATE') THEN {_upserts('NEW', 1)} END IF;"
        " RETURN NULL; END $$",
        "CREATE TRIGGER event_tally_insert AFTER INSERT ON event FOR EACH ROW"
        f" WHEN {ANY_TALLIED.format(row='NEW')} EXECUTE FUNCTION event_tally_change()",
        "CREATE TRIGGER event_tally_update AFTER UPDATE OF status, source ON event FOR EACH ROW"
        f" WHEN ({changed}) EXECUTE FUNCTION event_tally_change()",
        "CREATE TRIGGER event_tally_delete AFTER DELETE ON event FOR EACH ROW"
        f" WHEN {ANY_TALLIED.format(row='OLD')} EXECUTE FUNCTION event_tally_change()",
    ]


def upgrade() -> None:
    op.create_table(
        "event_tally",
        sa.Column("metric", AutoString(length=20), nullable=False),
        sa.Column("label", AutoString(length=200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "label"),
    )
    op.execute(sa.text(BACKFILL_EVENTS))
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _postgresql_triggers() if postgresql else _sqlite_triggers():
        op.execute(sa.text(statement))
    op.create_table(
        "reconcile_tally",
        sa.Column("trigger", AutoString(length=20), nullable=False),
        sa.Column("outcome", AutoString(length=20), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("last_finished_at", app.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("trigger", "outcome"),
    )
    op.execute(BACKFILL)
    op.create_index(
        "ix_ops_incident_open",
        "ops_incident",
        ["opened_at"],
        sqlite_where=sa.text("recovered_at IS NULL"),
        postgresql_where=sa.text("recovered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ops_incident_open", table_name="ops_incident")
    for trigger in ("event_tally_insert", "event_tally_update", "event_tally_delete"):
        op.execute(
            sa.text(
                f"DROP TRIGGER {trigger}"
                + (" ON event" if op.get_bind().dialect.name == "postgresql" else "")
            )
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP FUNCTION event_tally_change()"))
    op.drop_table("event_tally")
    op.drop_table("reconcile_tally")
