"""Alerts for the operators (Apprise tag `ops`): what an incident is called, what its alert says,
and when a spool counts as stuck. Pure standard library, plain values in and out.

Kinds of incident, each alerted once when it opens (and once more when it recovers):
  event-failed:<event id>              an event that could not be processed (marked failed)
  destination-failing:<destination id> an alert target whose retries ran out, or whose
                                       sends kept timing out (skipped for a while)
  spool-stuck                          events waiting in the spool, or Temporal unreachable,
                                       for longer than FLEXHOOK_OPS_ALERT_AFTER
  token-guessing:<client address>      refused tokens from one address, in a burst (alerted
                                       once; no recovery message)

An ops alert names ids, types, the first line of an error, a destination in Apprise's privacy
form, counts and durations; never a payload, a URL with credentials, a secret or a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

# The Apprise tag that routes ops alerts (and only ops alerts) to a target.
OPS_TAG: Final = "ops"
SPOOL_STUCK: Final = "spool-stuck"
# Errors are shown by their first line, cut here: a reason, not a traceback or a payload.
ERROR_CHARS: Final = 300


class OpsKind(StrEnum):
    EVENT_FAILED = "event-failed"
    DESTINATION_FAILING = "destination-failing"
    SPOOL_STUCK = "spool-stuck"
    TOKEN_GUESSING = "token-guessing"
    EVENTS_STUCK = "events-stuck"


def event_failed_key(event_id: str) -> str:
    return f"{OpsKind.EVENT_FAILED}:{event_id}"


def destination_failing_key(destination_id: str) -> str:
    return f"{OpsKind.DESTINATION_FAILING}:{destination_id}"


@dataclass(frozen=True)
class OpsAlert:
    """One ops message: an incident opened (`recovered` False) or over (True)."""

    key: str  # the incident, as stored
    kind: OpsKind
    recovered: bool
    title: str  # one line: the email subject, the chat title
    summary: str  # one or two sentences
    facts: tuple[tuple[str, str], ...]  # (label, value), in order
    event_id: str | None = None  # for links to the event, where there is one


def first_line(error: str, *, limit: int = ERROR_CHARS) -> str:
    """The first non-empty line of `error`, cut to `limit` characters."""
    line = next((part.strip() for part in error.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def duration(value: timedelta) -> str:
    """`45 s`, `6 min`, `2 h 5 min`, `3 d 4 h`: how long, to the unit that matters."""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def short_destination(privacy_url: str) -> str:
    """A destination's privacy form without its query (Apprise writes every default there):
    `json://user:****@hooks.example.com/alerts`."""
    return privacy_url.split("?", 1)[0]


def moment(value: datetime) -> str:
    """`2026-03-01 12:00:05 UTC`."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- (1) an event that failed processing ----------------------------------------------------------


def event_failed(
    *, event_id: str, event_type: str, shipment_id: str | None, error: str, failed_at: datetime
) -> OpsAlert:
    return OpsAlert(
        key=event_failed_key(event_id),
        kind=OpsKind.EVENT_FAILED,
        recovered=False,
        title=f"flexhook: event {event_id} failed processing",
        summary=(
            f"Event {event_id} ({event_type}) could not be processed and is marked failed. "
            "A redelivery or a redrive (flexhook redrive --status failed) runs it again."
        ),
        facts=(
            ("Event", event_id),
            ("Type", event_type),
            ("Shipment", shipment_id or "none"),
            ("Error", first_line(error)),
            ("Failed at", moment(failed_at)),
        ),
        event_id=event_id,
    )


def event_recovered(
    *,
    event_id: str,
    event_type: str,
    shipment_id: str | None,
    failed_at: datetime,
    processed_at: datetime,
) -> OpsAlert:
    return OpsAlert(
        key=event_failed_key(event_id),
        kind=OpsKind.EVENT_FAILED,
        recovered=True,
        title=f"flexhook: event {event_id} processed after all",
        summary=f"Event {event_id} ({event_type}), which had failed, was processed.",
        facts=(
            ("Event", event_id),
            ("Type", event_type),
            ("Shipment", shipment_id or "none"),
            ("Failed at", moment(failed_at)),
            ("Processed at", moment(processed_at)),
        ),
        event_id=event_id,
    )


# -- (2) a destination whose retries ran out ------------------------------------------------------


def destination_failing(
    *,
    destination_id: str,
    destination: str,
    alert_kind: str,
    event_id: str,
    shipment_id: str,
    error: str,
    attempts: int,
) -> OpsAlert:
    """`destination` is Apprise's privacy form of the URL (no credentials)."""
    short = short_destination(destination)
    reason = first_line(error.removeprefix(f"{destination}: "))
    return OpsAlert(
        key=destination_failing_key(destination_id),
        kind=OpsKind.DESTINATION_FAILING,
        recovered=False,
        title=f"flexhook: alerts to {short} keep failing",
        summary=(
            f"A {alert_kind} alert about shipment {shipment_id} could not be delivered to "
            f"{short} before its retries ran out, or its sends kept timing out and it is "
            "skipped for a while (see Error); it is marked failed. The next alert delivered "
            "there closes this incident."
        ),
        facts=(
            ("Destination", destination),
            ("Destination id", destination_id),
            ("Alert", alert_kind),
            ("Event", event_id),
            ("Shipment", shipment_id),
            ("Attempts", str(attempts)),
            ("Error", reason),
        ),
        event_id=event_id,
    )


def destination_recovered(
    *, destination_id: str, destination: str, failing_since: datetime, now: datetime
) -> OpsAlert:
    return OpsAlert(
        key=destination_failing_key(destination_id),
        kind=OpsKind.DESTINATION_FAILING,
        recovered=True,
        title=f"flexhook: alerts reach {short_destination(destination)} again",
        summary=f"An alert was delivered to {short_destination(destination)} again.",
        facts=(
            ("Destination", destination),
            ("Destination id", destination_id),
            ("Failing since", moment(failing_since)),
            ("Failing for", duration(now - failing_since)),
        ),
    )


# -- (3) a spool that stays non-empty, or Temporal unreachable ------------------------------------


@dataclass(frozen=True)
class SpoolState:
    """What one look at the spool and Temporal found."""

    depth: int
    oldest_received_at: datetime | None
    temporal_answers: bool

    @property
    def troubled(self) -> bool:
        """Events wait, or Temporal does not answer: the start of a possible incident."""
        return self.depth > 0 or not self.temporal_answers


def trouble_began(state: SpoolState, *, now: datetime) -> datetime:
    """When this trouble began, as far as one look tells: when the oldest event waiting arrived
    (the spool has not been empty since), else now. An incident already open keeps its own."""
    if state.depth > 0 and state.oldest_received_at is not None:
        return min(state.oldest_received_at, now)
    return now


def is_stuck(state: SpoolState, *, since: datetime, now: datetime, after: timedelta) -> bool:
    """Troubled, and for longer than `after` (FLEXHOOK_OPS_ALERT_AFTER)."""
    return state.troubled and now - since > after


def check_every(after: timedelta) -> timedelta:
    """How often a web process looks: a fifth of `after`, between 1 and 10 seconds, so that a
    stuck spool is alerted at most a fifth of `after` late (or a few seconds)."""
    return min(timedelta(seconds=10), max(timedelta(seconds=1), after / 5))


def spool_stuck(state: SpoolState, *, since: datetime, now: datetime) -> OpsAlert:
    lasted = duration(now - since)
    oldest = state.oldest_received_at
    temporal = "answers" if state.temporal_answers else "unreachable"
    if state.depth:
        title = f"flexhook: {state.depth} event(s) stuck in the spool for {lasted}"
        what = f"Events have waited in the spool for {lasted} (Temporal {temporal})."
    else:
        title = f"flexhook: Temporal unreachable for {lasted}"
        what = f"Temporal has not answered for {lasted}; the spool is empty so far."
    return OpsAlert(
        key=SPOOL_STUCK,
        kind=OpsKind.SPOOL_STUCK,
        recovered=False,
        title=title,
        summary=(
            f"{what} Webhooks are still answered and kept, and start when Temporal takes them."
        ),
        facts=(
            ("Spool depth", str(state.depth)),
            (
                "Oldest waiting for",
                duration(now - oldest) if state.depth and oldest is not None else "none waiting",
            ),
            ("Temporal", temporal),
            ("Since", moment(since)),
            ("For", lasted),
        ),
    )


def spool_recovered(*, since: datetime, now: datetime) -> OpsAlert:
    return OpsAlert(
        key=SPOOL_STUCK,
        kind=OpsKind.SPOOL_STUCK,
        recovered=True,
        title=f"flexhook: spool drained, Temporal answers again (after {duration(now - since)})",
        summary="The spool is empty and Temporal answers: events start directly again.",
        facts=(
            ("Since", moment(since)),
            ("Recovered at", moment(now)),
            ("Lasted", duration(now - since)),
        ),
    )


# -- (4) refused tokens in a burst -----------------------------------------------------------------


def token_guessing_key(client: str) -> str:
    return f"{OpsKind.TOKEN_GUESSING}:{client}"


def token_guessing(*, client: str, refused: int, within: timedelta, at: datetime) -> OpsAlert:
    return OpsAlert(
        key=token_guessing_key(client),
        kind=OpsKind.TOKEN_GUESSING,
        recovered=False,
        title=f"flexhook: {refused} refused tokens from {client}",
        summary=(
            f"{client} presented {refused} tokens that are unknown, expired or revoked within "
            f"{duration(within)}; its requests are answered 429 for a while. Someone may be "
            "guessing tokens, or a client holds an old one."
        ),
        facts=(("Address", client), ("Refused", str(refused)), ("Since", moment(at))),
    )


@dataclass(frozen=True)
class Incident:
    key: str
    opened_at: datetime
    alerted_at: datetime | None
    recovered_at: datetime | None
    recovery_alerted_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.recovered_at is None

    @property
    def recovery_unannounced(self) -> bool:
        """Alerted, over, and nobody has said so yet."""
        return (
            self.alerted_at is not None
            and self.recovered_at is not None
            and self.recovery_alerted_at is None
        )


# -- (5) events that stay `processing` ------------------------------------------------------------

EVENTS_STUCK = str(OpsKind.EVENTS_STUCK)


def events_stuck(
    *, count: int, oldest_event_id: str | None, after: timedelta, now: datetime
) -> OpsAlert:
    """Events logged `processing` for longer than `after` (FLEXHOOK_STUCK_AFTER): their
    processing keeps failing, and each is retried until its deadline fails it."""
    return OpsAlert(
        key=EVENTS_STUCK,
        kind=OpsKind.EVENTS_STUCK,
        recovered=False,
        title=f"flexhook: {count} event(s) stuck in processing for over {duration(after)}",
        summary=(
            "Their processing keeps failing and is retried; each fails at its deadline. The "
            "event log has the last error; `flexhook redrive --status processing` runs them again."
        ),
        facts=(
            ("Events", str(count)),
            ("Oldest", oldest_event_id or "-"),
            ("Processing for over", duration(after)),
            ("Seen at", moment(now)),
        ),
        event_id=oldest_event_id,
    )


def events_unstuck(*, since: datetime, now: datetime) -> OpsAlert:
    return OpsAlert(
        key=EVENTS_STUCK,
        kind=OpsKind.EVENTS_STUCK,
        recovered=True,
        title=f"flexhook: no event stuck in processing any more (after {duration(now - since)})",
        summary="Every event processing for long has been processed or failed.",
        facts=(("Since", moment(since)), ("Recovered at", moment(now))),
    )
