"""The answers of the API, as pydantic models: what each operation answers, errors included.

The OpenAPI document (`app.web.openapi`) is generated from them beside the request models of
`app.web.schemas`. Answer models (`Answer`) forbid fields they do not name, so an answer that
grows a field fails the API's conformance test until the model names it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
)

from app.core.access import Role
from app.core.exception_families import Severity
from app.core.exception_state import State
from app.core.statuses import EventStatus, NotificationStatus, StartStatus


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Answer):
    """Every refusal: a stable error name and a sentence saying why."""

    error: str = Field(examples=["bad_request"])
    detail: str


class Location(Answer):
    name: str | None
    unlocode: str | None
    country: str | None
    timezone: str | None


class ContainerLocation(Answer):
    name: str | None
    unlocode: str | None
    country: str | None


class ShipmentSummary(Answer):
    id: str
    name: str | None
    transportation_mode: str | None
    status: str | None
    status_at: datetime | None
    location: Location | None
    estimated_departure: datetime | None
    actual_departure: datetime | None
    estimated_arrival: datetime | None
    previous_estimated_arrival: datetime | None
    actual_arrival: datetime | None
    delivered_at: datetime | None
    updated_at: datetime | None


class Milestone(Answer):
    event_id: str
    milestone: str
    leg_id: str | None
    occurred_at: datetime | None
    location: Location | None
    late: bool = Field(description="Older than the shipment's status when it was recorded.")


class Container(Answer):
    number: str
    shipment_id: str | None
    flexport_id: str | None
    container_type: str | None
    container_size: str | None
    seal_number: str | None
    last_event: str | None
    last_event_at: datetime | None
    estimated_arrival: datetime | None
    actual_arrival: datetime | None
    actual_delivery: datetime | None
    last_free_day: date | None
    empty_returned: date | None
    updated_at: datetime | None
    location: ContainerLocation | None


class ShipmentDocument(ShipmentSummary):
    """A shipment with its milestones (chronological) and containers."""

    milestones: list[Milestone]
    containers: list[Container]


class ShipmentList(Answer):
    """One page, most recently updated first."""

    shipments: list[ShipmentSummary]
    next: str | None = Field(
        description="Give it as `after` for the next page; null on the last page."
    )


class EtaPoint(Answer):
    estimate: datetime = Field(description="The estimated arrival, in UTC.")
    reported_at: datetime = Field(description="When the event reporting it happened, in UTC.")
    event_id: str


class EtaHistory(Answer):
    """Each estimate of a shipment's arrival in reporting order: a report that repeats the
    estimate before it, a second report of one event and a report after the actual arrival add
    no point, so the history does not depend on the order events arrived in."""

    points: list[EtaPoint]


class EventSummary(Answer):
    event_id: str
    type: str
    category: str
    name: str
    shipment_id: str | None
    occurred_at: datetime | None
    received_at: datetime
    processed_at: datetime | None
    status: EventStatus
    error: str | None
    workflow_id: str
    alerts: list[dict[str, Any]] = Field(description="The alerts decided when it was applied.")
    source: str | None = Field(description="`reconcile` when reconciliation found it missing.")


class EventDetail(EventSummary):
    """One logged event with the payload Flexport sent (null once payload retention removed
    it; `payload_removed` then says so)."""

    payload: dict[str, Any] | None
    payload_removed: str | None = Field(
        default=None,
        description="Why the payload is null: `removed by payload retention` "
        "(FLEXHOOK_PAYLOAD_RETENTION); null while the payload is kept.",
    )


class EventList(Answer):
    """One page, newest received first."""

    events: list[EventSummary]
    next: str | None = Field(
        description="Give it as `after` for the next page; null on the last page."
    )


class Redriven(Answer):
    status: StartStatus
    event_id: str
    workflow_id: str


class NotificationRow(Answer):
    id: str
    dedup_key: str
    destination_id: str
    destination: str = Field(description="The destination in Apprise's privacy form.")
    kind: str
    event_id: str
    shipment_id: str
    status: NotificationStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    alert: dict[str, Any] | None


class NotificationList(Answer):
    notifications: list[NotificationRow]


class Subscription(Answer):
    id: str
    shipment_id: str
    url: str = Field(description="In Apprise's privacy form.")
    kinds: list[str] | None
    audience: str = Field(description="`internal` or `external`: which links its alerts carry.")
    follower: bool = Field(
        description="Made by a confirmed follow by email from the tracking page; followers "
        "have a cap of their own."
    )
    created_at: datetime


class SubscriptionList(Answer):
    subscriptions: list[Subscription]


class SubscriberList(Answer):
    """A shipment's subscriptions under their old key (deprecated)."""

    subscribers: list[Subscription]


class Recipient(Answer):
    id: str
    url: str = Field(description="In Apprise's privacy form.")
    kinds: list[str] | None
    shipments: list[str] | None
    delivery: str
    digest_at: str | None
    timezone: str
    quiet_hours: str | None
    audience: str = Field(description="`internal` or `external`: which links its alerts carry.")
    created_at: datetime


class RecipientList(Answer):
    recipients: list[Recipient]


class RecipientListByOldKey(Answer):
    """Recipients under their old key (deprecated)."""

    subscribers: list[Recipient]


class SpoolStats(Answer):
    depth: int
    oldest_received_at: datetime | None
    oldest_age_seconds: float | None


class ReconcileRun(Answer):
    id: int
    trigger: str
    outcome: str
    dry_run: bool
    since: datetime
    until: datetime
    listed: int
    known: int
    missing: int
    started: int
    errors: list[str]
    started_at: datetime
    finished_at: datetime
    duration_seconds: float
    workflow_id: str | None


class ReconcileRuns(Answer):
    runs: list[ReconcileRun]


class Token(Answer):
    name: str
    role: Role
    last_four: str
    contact: str | None = Field(description="In Apprise's privacy form.")
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewToken(Token):
    token: str = Field(description="The token itself: shown this once, never again.")


class TokenList(Answer):
    tokens: list[Token]


class Share(Answer):
    """A share link to a shipment's tracking page, as lists show it: never its token."""

    id: int
    shipment_id: str
    purpose: Literal["link", "alerts"] = Field(
        description="`link`: made by a person; `alerts`: the one link the shipment's alerts carry."
    )
    created_by: str
    created_at: datetime
    expires_at: datetime = Field(
        description="When it stops opening: after delivery, FLEXHOOK_SHARE_AFTER_DELIVERY after it."
    )
    revoked_at: datetime | None
    revoked_by: str | None
    views: int
    last_viewed_at: datetime | None
    state: Literal["active", "revoked", "expired"]


class NewShare(Share):
    url: str = Field(
        description="The tracking page's address, with the link's token: shown this once, never "
        "again."
    )


class ShareList(Answer):
    shares: list[Share]


class AuditEntry(Answer):
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    client: str | None
    request_id: str | None


class AuditTrail(Answer):
    entries: list[AuditEntry]


class Booking(Answer):
    id: str
    shipment_id: str | None
    status: str | None
    cargo_ready_date: date | None
    updated_at: datetime | None


class PurchaseOrder(Answer):
    id: str
    name: str | None
    status: str | None
    buyer: str | None
    seller: str | None
    cargo_ready_date: date | None
    must_arrive_date: date | None
    updated_at: datetime | None


class Invoice(Answer):
    id: str
    shipment_id: str | None
    name: str | None
    status: str | None
    amount: str | None = Field(description="Exactly as Flexport wrote it.")
    currency: str | None
    due_date: date | None
    updated_at: datetime | None


class Document(Answer):
    id: str
    shipment_id: str | None
    document_type: str | None
    file_name: str | None
    link: str | None
    updated_at: datetime | None


class Record(RootModel[Booking | PurchaseOrder | Invoice | Document | Container]):
    """A booking, purchase order, invoice, document or container, by its collection."""


class ShipmentException(Answer):
    """One problem of one shipment (docs/exceptions.md)."""

    id: int
    shipment_id: str
    family: str = Field(description="Its family (docs/exceptions.md, the family table).")
    severity: Severity
    state: State
    occurrences: int = Field(description="Reports of it, recurrences included.")
    recurrences: int = Field(description="Reports after it was resolved (each reopened it).")
    opened_at: datetime = Field(description="When its current episode opened.")
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    assignee: str | None
    snoozed_until: datetime | None
    resolved_by: str | None = Field(
        description="A person's name, or `flexport:<event id>` of the event that cleared it."
    )
    resolved_at: datetime | None
    url: str = Field(
        description="Its page in the dashboard's inbox (relative without FLEXHOOK_PUBLIC_URL)."
    )


class ExceptionEntry(Answer):
    """One transition of an exception's timeline."""

    at: datetime
    who: str = Field(description="A person's name, `system`, or `flexport:<event id>`.")
    what: str
    note: str | None


class ExceptionDetail(ShipmentException):
    """An exception with its whole timeline, oldest entry first."""

    timeline: list[ExceptionEntry]


class ExceptionList(Answer):
    """One page, most severe first, then oldest."""

    exceptions: list[ShipmentException]
    next: str | None = Field(
        description="Give it as `after` for the next page; null on the last page."
    )


class BulkRefusal(Answer):
    id: int
    reason: str


class BulkOutcome(Answer):
    """What a bulk action did to each exception its filter matched (at most 500)."""

    changed: list[int]
    refused: list[BulkRefusal]


class OpenApiDocument(BaseModel):
    """This document."""

    model_config = ConfigDict(extra="allow")

    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class HtmlPage(RootModel[str]):
    """A page of HTML (`text/html`)."""


class CsvFile(RootModel[str]):
    """A CSV file (`text/csv`, UTF-8 with a byte order mark), sent as an attachment."""
