"""The custom search attributes that let ops find an event's workflow in the Temporal UI."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

SHIPMENT_ID = SearchAttributeKey.for_keyword("ShipmentId")
EVENT_TYPE = SearchAttributeKey.for_keyword("EventType")
EVENT_CATEGORY = SearchAttributeKey.for_keyword("EventCategory")

ALL_KEYS = (SHIPMENT_ID, EVENT_TYPE, EVENT_CATEGORY)


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` flags that register every key."""
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags


def for_event(*, shipment_id: str | None, event_type: str, category: str) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(EVENT_TYPE, event_type[:200]),
        SearchAttributePair(EVENT_CATEGORY, category),
    ]
    if shipment_id:
        pairs.append(SearchAttributePair(SHIPMENT_ID, shipment_id[:200]))
    return TypedSearchAttributes(pairs)


def for_shipment(shipment_id: str) -> TypedSearchAttributes:
    """A shipment's own workflow (its ETA watch): found by `ShipmentId` beside its events."""
    return TypedSearchAttributes([SearchAttributePair(SHIPMENT_ID, shipment_id[:200])])
