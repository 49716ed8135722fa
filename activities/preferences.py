"""Whose alerts wait, and until when: the delivery preferences of each destination. A
destination's preferences are its recipient's (`POST /api/recipients`), else those the
configuration file's `flexhook:` section gives its tags (`notifications.destinations`)."""

from __future__ import annotations

from sqlmodel import Session

from app.core.preferences import Preferences
from app.store.recipients import preferences_of, recipient_by_destination
from notifications.destinations import NotifyConfig
from notifications.notifier import Destination


def preferences_for(
    session: Session, destination: Destination, config: NotifyConfig
) -> Preferences | None:
    """The recipient's preferences for this URL, else the configuration file's for its tags;
    None when nothing ever waits for it."""
    recipient = recipient_by_destination(session, destination_id=destination.id)
    if recipient is not None:
        return preferences_of(recipient)
    return config.preferences_for(destination.tags)
