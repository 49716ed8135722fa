"""Recorded-style Flexport events for the exception tests. Flexport ships no exception sample: a
hold or a delay is the same `/shipment` event as a packaged sample, under another type."""

from __future__ import annotations

import json
from typing import Any

from app.core.events import Event, parse_event
from tests.helpers import load_sample


def sample_event(prefix: str, *, event_type: str | None = None, **shipment: Any) -> Event:
    """A packaged sample as parsed, optionally retyped (Flexport ships no exception sample: a
    hold is the same `/shipment` event with another type) and with shipment fields changed."""
    payload = load_sample(prefix)
    if event_type is not None:
        payload["type"] = event_type
    data = payload["data"]
    for target in (data.get("shipment"), data.get("resource")):
        if target and target.get("_object") == "/shipment":
            target.update(shipment)
    return parse_event(json.dumps(payload).encode())
