"""The alert that sample 06_leg_departed.json becomes, for tests of rendering and sending."""

from __future__ import annotations

from app.core.alert import Alert

NAME = "SS26 Apparel - Yantian to LA #3"

# Shipment 418563 left Yantian at 21:20 local time (13:20 UTC).
DEPARTED = Alert(
    kind="departed",
    event_id="48262090",
    event_type="/shipment_leg#departed",
    shipment_id="418563",
    headline="Departed",
    occurred_at="2026-02-26T13:20:00+00:00",
    shipment_name=NAME,
    place_name="Yantian",
    place_country="CN",
    place_timezone="Asia/Shanghai",
    estimated_arrival="2026-03-13T15:00:00+00:00",
)
