"""Alerts out: Jinja2 rendering, the Apprise configuration and destinations, Apprise delivery,
and ops alerts with their reporter."""
