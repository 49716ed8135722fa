"""Who reads an alert, and so which links it may carry.

`internal`: the team (the default): flexhook's dashboard and the Temporal UI answer them after
they sign in, so their alerts link there as well as to the tracking page. `external`: everyone
else (a customer, a trucker, a broker): only links that open without signing in, the shipment's
tracking page and, where wanted, Flexport's app.
"""

from __future__ import annotations

from enum import StrEnum


class Audience(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


# The tag that makes a configuration-file destination external (`audience:external`).
EXTERNAL_TAG = "audience:external"


def parse_audience(value: str) -> Audience:
    """`internal` or `external`, in any case; anything else is a ValueError naming both."""
    try:
        return Audience(value.strip().lower())
    except ValueError:
        raise ValueError("audience must be internal or external") from None
