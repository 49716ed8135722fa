"""`EtaWatchWorkflow`: one per watched shipment; alerts `eta_missed` once when the shipment's
ETA plus its grace passes with no arrival or delivery recorded.

Event processing feeds it (signal-with-start `eta` when the ETA moves, `arrived` for an arrival
or a delivery). The wait is a durable Temporal timer, so it survives worker and server restarts.
A newer ETA re-arms the timer; an arrival or a delivery ends the watch; so does the alert. The
history stays bounded: after `SIGNALS_PER_RUN` signals, or when Temporal suggests it, a run
continues as new carrying the ETA it watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.types import Delivery, EtaMissedInput
    from workflows.policies import (
        RECORDS_RETRY,
        RECORDS_TIMEOUT,
    )
    from workflows.sending import send_alert
    from workflows.types import ArrivalNotice, EtaUpdate, EtaWatchInput

# Each signal adds four events or so to the history; a hundred keeps a run well under the
# size at which Temporal starts suggesting continue-as-new.
SIGNALS_PER_RUN = 100

# The signals, by name: event processing sends them (`workflows.eta_feed`).
ETA_SIGNAL = "eta"
ARRIVED_SIGNAL = "arrived"

# How a watch ends: its result.
ARRIVED = "arrived"
ALERTED = "alerted"


def deadline(eta: EtaUpdate) -> datetime:
    """When the watch alerts: the ETA plus the grace."""
    return datetime.fromisoformat(eta.estimated_arrival) + timedelta(seconds=eta.grace_seconds)


@workflow.defn
class EtaWatchWorkflow:
    @workflow.init
    def __init__(self, input: EtaWatchInput) -> None:
        self._shipment_id = input.shipment_id
        self._eta = input.eta
        self._arrival: ArrivalNotice | None = None
        self._news = False  # a new ETA to watch since the timer was set
        self._signals = 0

    @workflow.run
    async def run(self, input: EtaWatchInput) -> str:
        """`arrived` when an arrival or delivery ended the watch, `alerted` after the alert."""
        while True:
            if self._arrival is not None:
                workflow.logger.info(
                    "shipment %s: %s (event %s), watch ended",
                    self._shipment_id,
                    self._arrival.milestone,
                    self._arrival.event_id,
                )
                return ARRIVED
            if self._handover_due():
                workflow.continue_as_new(
                    EtaWatchInput(shipment_id=self._shipment_id, eta=self._eta)
                )
            self._news = False
            eta = self._eta
            if eta is None:
                await workflow.wait_condition(self._woken)
            elif await self._deadline_passed(eta):
                workflow.logger.info(
                    "shipment %s: ETA %s passed with no arrival",
                    self._shipment_id,
                    eta.estimated_arrival,
                )
                await self._alert(eta)
                if not self._news and self._arrival is None:
                    return ALERTED
                # A new ETA or an arrival came in while alerting: go round again.

    @workflow.signal(name=ETA_SIGNAL)
    def eta(self, update: EtaUpdate) -> None:
        """Watch `update` unless the watch has that ETA already or a newer one (a retried or a
        late signal)."""
        self._signals += 1
        current = self._eta
        if current is not None and update.stamp <= current.stamp:
            return
        same = (update.estimated_arrival, update.grace_seconds)
        if current is not None and same == (current.estimated_arrival, current.grace_seconds):
            self._eta = dataclasses.replace(current, stamp=update.stamp)
            return
        self._eta = update
        self._news = True
        self._arrival = None  # news after an arrival: the shipment is on its way again

    @workflow.signal(name=ARRIVED_SIGNAL)
    def arrived(self, notice: ArrivalNotice) -> None:
        self._signals += 1
        if self._arrival is None:
            self._arrival = notice

    @workflow.query(name="watching")
    def watching(self) -> EtaUpdate | None:
        """The ETA the watch waits on."""
        return self._eta

    def _handover_due(self) -> bool:
        return self._signals >= SIGNALS_PER_RUN or workflow.info().is_continue_as_new_suggested()

    def _woken(self) -> bool:
        return self._news or self._arrival is not None or self._handover_due()

    async def _deadline_passed(self, eta: EtaUpdate) -> bool:
        """Wait on a durable timer until the ETA plus grace; False if a new ETA, an arrival or
        a handover came first (or with it)."""
        remaining = deadline(eta) - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):  # the timer fired
                await workflow.wait_condition(
                    self._woken, timeout=remaining, timeout_summary="eta-plus-grace"
                )
        return not self._woken()

    async def _alert(self, eta: EtaUpdate) -> None:
        deliveries: list[Delivery] = await workflow.execute_activity(
            "alert_eta_missed",
            EtaMissedInput(
                shipment_id=self._shipment_id,
                estimated_arrival=eta.estimated_arrival,
                stamp=eta.stamp,
                event_id=eta.event_id,
                observed_at=workflow.now().isoformat(),
            ),
            start_to_close_timeout=RECORDS_TIMEOUT,
            retry_policy=RECORDS_RETRY,
            result_type=list[Delivery],
        )
        await asyncio.gather(*(send_alert(delivery) for delivery in deliveries))
