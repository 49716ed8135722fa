"""How the pages show values: the Jinja filters and globals, plain functions over plain values."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, urlsplit

from app.core.display import CONTAINER_SIZES, span, time_text
from app.core.ids import event_workflow_url


def show_time(value: datetime | None, timezone: str | None = None) -> str:
    """`26 Feb 2026 21:20 CST` in the place's zone when known, else in UTC; `—` for none."""
    return "—" if value is None else time_text(value, timezone)


def show_utc(value: datetime | None) -> str:
    """`2026-02-26 13:20 UTC`, for tooltips."""
    return "" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def show_date(value: date | None) -> str:
    """`26 Feb 2026`; `—` for none."""
    return "—" if value is None else f"{value.day} {value:%b %Y}"


def iso(value: datetime | date | None) -> str:
    """ISO 8601, for `<time datetime=...>`; empty for none."""
    return "" if value is None else value.isoformat()


def show_shift(later: datetime | None, earlier: datetime | None) -> str:
    """`+1 d 4 h` / `-3 h`: how far `later` moved from `earlier`; empty when either is missing."""
    if later is None or earlier is None or later == earlier:
        return ""
    sign = "+" if later > earlier else "\N{MINUS SIGN}"
    return f"{sign}{span(later - earlier)}"


def show_ago(value: datetime | None, now: datetime) -> str:
    """`3 h 5 min ago`; `just now` within a minute (or for a clock a little ahead)."""
    if value is None:
        return "—"
    if value > now or now - value < timedelta(minutes=1):
        return "just now"
    return f"{span(now - value)} ago"


def label(value: str | None) -> str:
    """`customs_cleared` -> `Customs cleared`."""
    if not value:
        return "—"
    text = value.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def container_size(value: str | None) -> str:
    """`fourty_ft_hc` -> `40 ft HC`; sizes not in the table as words."""
    if not value:
        return "—"
    return CONTAINER_SIZES.get(value.replace("forty", "fourty"), label(value))


def segment(value: object) -> str:
    """A value quoted to be one path segment of a URL."""
    return quote(str(value), safe="")


def safe_href(value: str | None) -> str | None:
    """The link if it is http(s), else None: stored links never become `javascript:` URLs."""
    if not value:
        return None
    return value if urlsplit(value).scheme in ("http", "https") else None


def pretty_json(text: str) -> str:
    """JSON text indented for reading; text that is not JSON as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def workflow_url(event_id: str, *, temporal_ui_url: str, namespace: str) -> str | None:
    """The Temporal UI page of the event's workflow; None when there is no Temporal UI."""
    url = event_workflow_url(event_id, temporal_ui_url=temporal_ui_url, namespace=namespace)
    return url or None
