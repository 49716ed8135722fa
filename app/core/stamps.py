"""Version stamps: `YYYY-MM-DDTHH:MM:SS.ffffff|source` in UTC, which sort as the moments they
name (ties broken by the source, an event id or a person). The records' versions
(`app.store.projection`) and the exception markers (`app.core.exception_state`) are both."""

from __future__ import annotations

from datetime import UTC, datetime


def stamp(at: datetime, source: str) -> str:
    """The stamp of what `source` did at `at`."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}|{source}"


def stamp_time(value: str) -> datetime:
    """When the stamped thing happened (UTC)."""
    year, _, rest = value.partition("|")[0].partition("-")
    return datetime.fromisoformat(f"{year.zfill(4)}-{rest}").replace(tzinfo=UTC)
