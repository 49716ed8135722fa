"""Parse a Flexport delivery into an `Event` and the facts it asserts. Pure standard library.

Two envelopes are accepted: Flexport's own Event object (`{"_object": "/event", "type":
"/shipment_leg#departed", "data": {...}}`) and the compact one (`{"type": "shipment.milestone",
"data": {...}}`). Parsing is tolerant of nulls and extra fields; it never raises for a value it
merely does not know, only for a body that is not an event at all (`MalformedEvent`) or a value
that cannot be read (`EventDataError`, raised when facts are extracted). A value longer than the
database stores (`app.core.limits`) is not refused either: the event carries the reason as its
`defect`, to be stored `failed` with it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from app.core.compact_facts import compact_facts
from app.core.errors import EventDataError, MalformedEvent
from app.core.facts import Facts
from app.core.flexport_facts import flexport_facts, flexport_shipment_id, resource_object
from app.core.limits import EVENT_ID_CHARS, EVENT_TYPE_CHARS, RECORD_ID_CHARS, oversized
from app.core.taxonomy import Classification, classify, classify_compact
from app.core.values import Json, ident, obj, parse_datetime, text


@dataclass(frozen=True)
class Event:
    """One delivery, parsed: the envelope, what kind of event it is, and its raw JSON."""

    event_id: str
    type: str
    format: Literal["flexport", "compact"]
    classification: Classification
    shipment_id: str | None
    occurred_at_raw: str | None
    payload: Json
    # Why the database cannot store the event as it is (a value too long), or None.
    defect: str | None = None

    @property
    def category(self) -> str:
        return self.classification.category

    @property
    def milestone(self) -> str | None:
        return self.classification.milestone

    @property
    def known(self) -> bool:
        return self.classification.known

    def occurred_at(self) -> datetime | None:
        """When it happened, in UTC (`EventDataError` when the value is not a timestamp)."""
        return parse_datetime(self.occurred_at_raw, "occurred_at")

    def facts(self) -> Facts:
        """The facts this event asserts (`EventDataError` when a value cannot be read)."""
        if self.format == "compact":
            return compact_facts(self.type, obj(self.payload.get("data")))
        return flexport_facts(
            self.classification, obj(self.payload.get("data")), event_type=self.type
        )


def body_digest_id(body: bytes) -> str:
    """The id of an event that carries none: derived from its exact bytes."""
    return "sha256-" + hashlib.sha256(body).hexdigest()


def parse_event(body: bytes) -> Event:
    """Parse a delivery body into an `Event`, or raise `MalformedEvent` saying why."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedEvent(f"body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        payload = json.loads(decoded, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise MalformedEvent("body is nested too deeply") from None
    except ValueError as exc:
        raise MalformedEvent(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedEvent(f"body is a JSON {type(payload).__name__}, not an object")
    if "\\u" in decoded and _has_lone_surrogate(payload):
        raise MalformedEvent("body holds an unpaired UTF-16 surrogate escape")
    if "\\u0000" in decoded and _holds_nul(payload):
        # Valid JSON, but PostgreSQL's text columns cannot store it.
        raise MalformedEvent("body holds a NUL character (\\u0000)")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise MalformedEvent("body has no `type` string")
    raw_id = payload.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str)) or raw_id == "":
        event_id = body_digest_id(body)
    else:
        event_id = str(raw_id)
    if len(event_id) > EVENT_ID_CHARS:
        raise MalformedEvent(f"`id` is longer than {EVENT_ID_CHARS} characters")
    return _checked(_parsed(payload, event_id=event_id, event_type=event_type))


def _parsed(payload: Json, *, event_id: str, event_type: str) -> Event:
    data = obj(payload.get("data"))
    if event_type.startswith("/"):
        resource = obj(data.get("resource"))
        kind = resource_object(event_type, resource)
        classification = classify(event_type, resource_object=kind)
        return Event(
            event_id=event_id,
            type=event_type,
            format="flexport",
            classification=classification,
            shipment_id=flexport_shipment_id(data, kind=kind),
            occurred_at_raw=text(payload.get("occurred_at")) or text(payload.get("created_at")),
            payload=payload,
        )
    classification = classify_compact(event_type, milestone=text(data.get("milestone")))
    return Event(
        event_id=event_id,
        type=event_type,
        format="compact",
        classification=classification,
        shipment_id=ident(data.get("shipment_id")),
        occurred_at_raw=text(data.get("occurred_at")) or text(payload.get("occurred_at")),
        payload=payload,
    )


def _checked(event: Event) -> Event:
    """`event`, with its `defect` if a value is longer than the database stores."""
    try:
        facts: Facts | None = event.facts()
    except EventDataError:
        facts = None  # processing reports the value it cannot read
    defect = oversized(event_type=event.type, shipment_id=event.shipment_id, facts=facts)
    return event if defect is None else replace(event, defect=defect)


def storable(event: Event) -> Event:
    """What of an event with a `defect` the log can keep: its type cut to the column, a shipment
    id that does not fit left out (the reason says why)."""
    shipment_id = event.shipment_id
    if shipment_id is not None and len(shipment_id) > RECORD_ID_CHARS:
        shipment_id = None
    return replace(event, type=event.type[:EVENT_TYPE_CHARS], shipment_id=shipment_id)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal[:20]} is out of range")
    return value


def _holds_nul(payload: Json) -> bool:
    """Whether any key or string in the document holds U+0000 (iterative: no recursion limit)."""
    pending: list[object] = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _has_lone_surrogate(payload: Json) -> bool:
    """JSON may escape half a UTF-16 pair (`\\ud800`); such text cannot be stored or re-encoded."""
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
