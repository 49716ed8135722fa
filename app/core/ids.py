"""How flexhook names things in Temporal. Pure standard library."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

# One workflow per Flexport event id: Temporal refuses a second start of the same id, which is
# what makes a redelivered event run once.
EVENT_WORKFLOW_PREFIX: Final = "flexport-event-"


def event_workflow_id(event_id: str) -> str:
    """The id of the workflow that processes the event `event_id`."""
    return EVENT_WORKFLOW_PREFIX + event_id


# One ETA watch per shipment: every event of the shipment signals the same workflow.
ETA_WATCH_PREFIX: Final = "eta-watch-"


def eta_watch_workflow_id(shipment_id: str) -> str:
    """The id of the workflow that watches the ETA of the shipment `shipment_id`."""
    return ETA_WATCH_PREFIX + shipment_id


EXCEPTION_WATCH_PREFIX = "exception-"


def exception_workflow_id(exception_id: int) -> str:
    """The id of the workflow that keeps the clocks of the exception `exception_id`: one per
    exception, run again (same id) when a resolved one reopens."""
    return f"{EXCEPTION_WATCH_PREFIX}{exception_id}"


def event_workflow_url(event_id: str, *, temporal_ui_url: str, namespace: str) -> str:
    """The Temporal UI page of the event's workflow; '' when there is no Temporal UI."""
    return workflow_url(
        event_workflow_id(event_id), temporal_ui_url=temporal_ui_url, namespace=namespace
    )


def workflow_url(workflow_id: str, *, temporal_ui_url: str, namespace: str) -> str:
    """The Temporal UI page of the workflow `workflow_id`; '' when there is no Temporal UI."""
    temporal_ui = temporal_ui_url.rstrip("/")
    if not temporal_ui:
        return ""
    return (
        f"{temporal_ui}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote(workflow_id, safe='')}"
    )


# Row ids are INTEGER columns: 32 bits on PostgreSQL, which refuses a larger value outright.
MAX_ROW_ID: Final = 2**31 - 1


def parse_row_id(value: str) -> int | None:
    """`value` as a row id, or None when it cannot be one (not ASCII digits, or more than the
    id column holds): the caller answers 404, as for an id that matches no row."""
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if number <= MAX_ROW_ID else None
