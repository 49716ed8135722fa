"""All of flexhook's tables.

Records are projections of events. Each row keeps, in `versions`, the stamp (`occurred_at|event
id`) of the event that last set each field; a field only ever takes a value from a newer stamp.
That makes the final state of every record independent of the order events arrive in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from app.core.statuses import NotificationStatus


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database (SQLite drops zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, index=index)


# Default factories are plain functions: for a builtin such as `list`, pydantic asks
# `inspect.signature` on every new row, which parses the builtin's text signature each time
# (80 µs of a new `EventRecord`'s 115, measured).
def _no_versions() -> dict[str, str]:
    return {}


def _no_alerts() -> list[dict[str, Any]]:
    return []


def _versions() -> Any:
    return Field(default_factory=_no_versions, sa_type=sa.JSON)


class EventRecord(SQLModel, table=True):
    """One row per unique event id: the log of everything Flexport delivered."""

    __tablename__ = "event"
    # Partial indexes for the metrics' counts: they hold only the rows counted, so a count
    # reads as many entries as it reports, whatever the log's size.
    __table_args__ = (
        sa.Index(
            "ix_event_unknown_type",
            "type",
            "category",
            sqlite_where=sa.text("category = 'other'"),
            postgresql_where=sa.text("category = 'other'"),
        ),
        sa.Index(
            "ix_event_reconciled",
            "source",
            sqlite_where=sa.text("source = 'reconcile'"),
            postgresql_where=sa.text("source = 'reconcile'"),
        ),
        # The lists' filters, each with the lists' order (newest received first, then id) after
        # it: a filtered page walks its index backwards from the cursor and stops at `limit`.
        sa.Index("ix_event_received", "received_at", "event_id"),
        sa.Index("ix_event_type_received", "type", "received_at", "event_id"),
        sa.Index("ix_event_status_received", "status", "received_at", "event_id"),
        sa.Index("ix_event_shipment_received", "shipment_id", "received_at", "event_id"),
    )

    event_id: str = Field(primary_key=True, max_length=200)
    type: str = Field(max_length=200)
    category: str = Field(max_length=40)
    name: str = Field(max_length=200)
    shipment_id: str | None = Field(default=None, max_length=64)
    occurred_at: datetime | None = _when()
    received_at: datetime = Field(sa_type=UTCDateTime)
    processed_at: datetime | None = _when()
    status: str = Field(max_length=20)
    error: str | None = None
    workflow_id: str = Field(max_length=240)
    # The body as delivered; None once payload retention removed it (`app.store.retention`).
    payload: str | None = Field(default=None, sa_type=sa.Text)
    # The alerts decided when the event was first applied, so a redrive sends the same ones.
    alerts: list[dict[str, Any]] = Field(default_factory=_no_alerts, sa_type=sa.JSON)
    # How the event reached the log when it was not a delivery: `reconcile` for an event that
    # reconciliation found missing and started. None for webhook deliveries (and the spool).
    source: str | None = Field(default=None, max_length=20)


class Shipment(SQLModel, table=True):
    # The list's order (most recently updated first, then id), alone and after a status.
    __table_args__ = (
        sa.Index("ix_shipment_updated", "updated_at", "id"),
        sa.Index("ix_shipment_status_updated", "status", "updated_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=64)
    name: str | None = None
    transportation_mode: str | None = None
    status: str | None = None
    status_at: datetime | None = _when()
    location_name: str | None = None
    location_unlocode: str | None = None
    location_country: str | None = None
    location_timezone: str | None = None
    estimated_departure: datetime | None = _when()
    actual_departure: datetime | None = _when()
    estimated_arrival: datetime | None = _when()
    previous_estimated_arrival: datetime | None = _when()
    actual_arrival: datetime | None = _when()
    delivered_at: datetime | None = _when()
    updated_at: datetime | None = _when()
    versions: dict[str, str] = _versions()
    # The JSON `GET /api/shipments/{id}` answers with, rebuilt on every change of the shipment,
    # its milestones or its containers (`app/store/documents.py`); None on rows written before.
    document: str | None = Field(default=None, sa_type=sa.Text)


class Milestone(SQLModel, table=True):
    """One row per milestone event, in the shipment's history."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=200)
    shipment_id: str = Field(index=True, max_length=64)
    leg_id: str | None = None
    milestone: str
    occurred_at: datetime | None = _when()
    location_name: str | None = None
    location_unlocode: str | None = None
    location_country: str | None = None
    location_timezone: str | None = None
    # Older than the shipment's status when it was recorded: history, not news.
    late: bool = False


class EtaObservation(SQLModel, table=True):
    """Each estimated arrival an event reported; the previous ETA is derived from these."""

    __tablename__ = "eta_observation"

    event_id: str = Field(primary_key=True, max_length=200)
    shipment_id: str = Field(index=True, max_length=64)
    stamp: str
    estimated_arrival: datetime = Field(sa_type=UTCDateTime)
    previous_hint: datetime | None = _when()


class Booking(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    shipment_id: str | None = Field(default=None, index=True)
    status: str | None = None
    cargo_ready_date: date | None = None
    updated_at: datetime | None = _when()
    versions: dict[str, str] = _versions()


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchase_order"

    id: str = Field(primary_key=True, max_length=64)
    name: str | None = None
    status: str | None = None
    buyer: str | None = None
    seller: str | None = None
    cargo_ready_date: date | None = None
    must_arrive_date: date | None = None
    updated_at: datetime | None = _when()
    versions: dict[str, str] = _versions()


class Invoice(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    shipment_id: str | None = Field(default=None, index=True)
    name: str | None = None
    status: str | None = None
    amount: str | None = None  # exactly as Flexport wrote it: money is not a float
    currency: str | None = None
    due_date: date | None = None
    updated_at: datetime | None = _when()
    versions: dict[str, str] = _versions()


class Document(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    shipment_id: str | None = Field(default=None, index=True)
    document_type: str | None = None
    file_name: str | None = None
    link: str | None = None
    updated_at: datetime | None = _when()
    versions: dict[str, str] = _versions()


class Container(SQLModel, table=True):
    number: str = Field(primary_key=True, max_length=20)
    shipment_id: str | None = Field(default=None, index=True)
    flexport_id: str | None = None
    container_type: str | None = None
    container_size: str | None = None
    seal_number: str | None = None
    last_event: str | None = None
    last_event_at: datetime | None = _when()
    location_name: str | None = None
    location_unlocode: str | None = None
    location_country: str | None = None
    estimated_arrival: datetime | None = _when()
    actual_arrival: datetime | None = _when()
    actual_delivery: datetime | None = _when()
    last_free_day: date | None = None
    empty_returned: date | None = None
    updated_at: datetime | None = _when()
    versions: dict[str, str] = _versions()


class Subscription(SQLModel, table=True):
    """A stakeholder's Apprise URL for one shipment, added at run time."""

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(index=True, max_length=64)
    url: str  # holds credentials: only ever shown as `privacy_url`
    privacy_url: str
    kinds: list[str] | None = Field(default=None, sa_type=sa.JSON)  # None: every kind
    # Who reads it (`app.core.audience`): `internal` gets flexhook's and Temporal's links too.
    audience: str = Field(default="internal", max_length=10)
    # A confirmed follow by email (`app.store.follows`): followers have a cap of their own.
    follower: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)


class Recipient(SQLModel, table=True):
    """A stakeholder's Apprise URL for alerts of any shipment, with delivery preferences: every
    alert at once (`instant`, optionally held in quiet hours) or one `digest` a day."""

    id: int | None = Field(default=None, primary_key=True)
    # The URL's destination id (`url-` + hash of Apprise's normal form): one recipient per URL.
    destination_id: str = Field(unique=True, max_length=64)
    url: str  # holds credentials: only ever shown as `privacy_url`
    privacy_url: str
    kinds: list[str] | None = Field(default=None, sa_type=sa.JSON)  # None: every kind
    shipments: list[str] | None = Field(default=None, sa_type=sa.JSON)  # None: every shipment
    delivery: str = Field(default="instant", max_length=10)  # instant | digest
    digest_at: str | None = Field(default=None, max_length=5)  # HH:MM, with digest
    timezone: str = Field(default="UTC", max_length=64)  # IANA name
    quiet_hours: str | None = Field(default=None, max_length=11)  # HH:MM-HH:MM, with instant
    # Who reads it (`app.core.audience`): `internal` gets flexhook's and Temporal's links too.
    audience: str = Field(default="internal", max_length=10)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    """The ledger: one row per (alert, destination). It is what makes alerts go out once."""

    __table_args__ = (
        sa.UniqueConstraint("dedup_key", "destination_id"),
        # The metrics count the rows not yet settled by (status, kind) from this index alone.
        sa.Index("ix_notification_status_kind", "status", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=240)
    destination_id: str = Field(max_length=64)
    destination: str  # Apprise's privacy form of the URL: no credentials
    kind: str = Field(max_length=20)
    event_id: str = Field(index=True, max_length=200)
    shipment_id: str = Field(index=True, max_length=64)
    status: str = Field(default=NotificationStatus.PENDING, index=True, max_length=20)
    # The workflow that holds the row while sending, so two events never both send it.
    claimed_by: str | None = None
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = _when()
    # A held alert's own copy (quiet hours, digests): some alerts are in no event's log entry.
    alert: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class SpooledEvent(SQLModel, table=True):
    """A verified event that Temporal could not take yet; the relay starts it later, oldest first.

    Its entry in the event log says `queued` meanwhile.
    """

    __tablename__ = "spool"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=200)
    received_at: datetime = Field(sa_type=UTCDateTime)
    # A relay holds the row until then, so several web processes share the spool.
    leased_until: datetime | None = _when(index=True)
    attempts: int = 0
    last_error: str | None = None


class ReconcileRun(SQLModel, table=True):
    """One reconciliation with Flexport's Events API: its window, what it counted, how it ended."""

    __tablename__ = "reconcile_run"

    id: int | None = Field(default=None, primary_key=True)
    trigger: str = Field(max_length=20)
    outcome: str = Field(max_length=20)
    dry_run: bool = False
    # occurred_at bounds of the events listed, both inclusive.
    since: datetime = Field(sa_type=UTCDateTime)
    until: datetime = Field(sa_type=UTCDateTime)
    listed: int = 0
    known: int = 0
    missing: int = 0
    started: int = 0
    errors: str | None = Field(default=None, sa_type=sa.Text)  # one problem a line, no secrets
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished_at: datetime = Field(sa_type=UTCDateTime)
    # The scheduled run's workflow: recording it twice (an activity retried) keeps one row.
    workflow_id: str | None = Field(default=None, unique=True, max_length=240)


class EventTally(SQLModel, table=True):
    """Counts of the logged events that never settle, for `/metrics`: `status` by status (failed,
    ignored), `unknown_type` by type (category `other`), `reconciled` (label ''; `source =
    reconcile`). Kept by database triggers on `event` (migration 0015) in the transaction of
    every insert, update and delete, whichever code writes the row."""

    __tablename__ = "event_tally"

    metric: str = Field(primary_key=True, max_length=20)
    label: str = Field(primary_key=True, max_length=200)
    n: int = 0


class ReconcileTally(SQLModel, table=True):
    """The reconcile runs' totals per (trigger, outcome), kept by `reconcile_runs.record_run` in
    the transaction that stores a run, so the metrics read a few rows, not a year of runs."""

    __tablename__ = "reconcile_tally"

    trigger: str = Field(primary_key=True, max_length=20)
    outcome: str = Field(primary_key=True, max_length=20)
    runs: int = 0
    started: int = 0  # events the runs started
    last_finished_at: datetime | None = _when()


class OpsIncident(SQLModel, table=True):
    """One ops incident per key (`event-failed:<event id>`, `destination-failing:<destination
    id>`, `spool-stuck`; see `app.core.ops_alerts`), reused when the key's trouble comes back.

    The timestamps are claims, each taken by one conditional UPDATE, so that workers and web
    replicas alert an incident once and its recovery once, across retries and restarts.
    """

    __tablename__ = "ops_incident"
    # /metrics counts the open incidents (`app.store.ops_incidents.count_open`): this index
    # holds just those, however many incidents a year of failed events left closed.
    __table_args__ = (
        sa.Index(
            "ix_ops_incident_open",
            "opened_at",
            sqlite_where=sa.text("recovered_at IS NULL"),
            postgresql_where=sa.text("recovered_at IS NULL"),
        ),
    )

    key: str = Field(primary_key=True, max_length=240)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    alerted_at: datetime | None = _when()  # the opening alert was claimed (and sent)
    recovered_at: datetime | None = _when()  # None: the incident is open
    recovery_alerted_at: datetime | None = _when()  # the recovery alert was claimed (and sent)


ALERTS_LINK = sa.text("purpose = 'alerts' AND nonce IS NOT NULL AND revoked_at IS NULL")


class Share(SQLModel, table=True):
    """A share link to one shipment's tracking page (`app.core.shares`). Only the token's
    SHA-256 is kept; a revoked or expired link keeps its row, for the audit trail's sake."""

    __tablename__ = "share"
    # One current alerts link per shipment (`app.store.shares.alert_share`); retired ones have
    # no nonce.
    __table_args__ = (
        sa.Index(
            "ux_share_alerts",
            "shipment_id",
            unique=True,
            sqlite_where=ALERTS_LINK,
            postgresql_where=ALERTS_LINK,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(unique=True, max_length=64)  # hex SHA-256 of the token
    shipment_id: str = Field(index=True, max_length=64)
    purpose: str = Field(default="link", max_length=10)  # link | alerts
    # For the alerts' link only: what its token is derived from, with the server's key.
    nonce: str | None = Field(default=None, max_length=32)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)  # before delivery; see effective_expiry
    revoked_at: datetime | None = _when()
    revoked_by: str | None = Field(default=None, max_length=64)
    views: int = 0
    last_viewed_at: datetime | None = _when()


class ApiToken(SQLModel, table=True):
    """A named token for a person or a machine, with a role. Only its SHA-256 is kept; a
    revoked token keeps its row, for the audit trail's sake."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)  # viewer | operator | admin
    digest: str = Field(unique=True, max_length=64)  # hex SHA-256 of the token
    last_four: str = Field(max_length=4)
    contact: str | None = None  # an Apprise URL to reach the person: holds credentials
    contact_privacy: str | None = None  # what is shown of it
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """One change or sign-in, appended and never updated or deleted."""

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64, index=True)  # a token's name, environment admin, system
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=500)
    outcome: str = Field(default="ok", max_length=500)
    client: str | None = Field(default=None, max_length=64)  # the address it came from
    request_id: str | None = Field(default=None, max_length=64)


class FollowRequest(SQLModel, table=True):
    """A visitor's request to follow a shipment by email (`app.core.follow`): unconfirmed until
    its confirmation link is used, then the subscription it became. Of both links' tokens only
    the SHA-256 is kept here."""

    __tablename__ = "follow_request"
    __table_args__ = (
        sa.Index("ix_follow_request_email_created", "email", "created_at"),
        sa.Index("ix_follow_request_shipment_created", "shipment_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(max_length=64)
    email: str = Field(max_length=254)  # normalised (`app.core.follow.normalise_address`)
    digest: str = Field(unique=True, max_length=64)  # hex SHA-256 of the confirmation token
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)  # unconfirmed past this: nothing
    confirmed_at: datetime | None = _when()
    subscription_id: int | None = None  # the subscription it became (gone once unsubscribed)
    unsubscribe_digest: str | None = Field(default=None, unique=True, max_length=64)
