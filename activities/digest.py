"""Put a digest into words and send it: the templates `title/digest.txt`, `email/digest.html`,
`chat/digest.md` and `text/digest.txt` (packaged beside the alert templates, overridable from
`FLEXHOOK_TEMPLATES_DIR` the same way), sent through the `Notifier`, whose redaction keeps the
URL's credentials out of every log line.

The `Notifier` sends an alert in the form its destination takes by asking its renderer for that
form; a `DigestRenderer` answers every such question with the digest it was made for, so the
digest goes out through `Notifier.send` unchanged. What a digest says is cut to its reader's
audience (`app.core.digest.seen_by`) at the moment it is sent to a destination.

`open_exceptions` reads the digest's "Open exceptions" section: the unresolved exceptions of the
shipments the destination follows, most severe first, then oldest, `OPEN_EXCEPTIONS_LIMIT` of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from sqlmodel import Session

from app.core.addresses import NOTHING_INTERNAL, AddressAllowlist
from app.core.alert import Alert, Links
from app.core.digest import Digest, OpenException, open_exception, seen_by
from app.core.shares import track_url
from app.store.exception_stats import unresolved_exceptions
from notifications.notifier import Destination, Notifier
from notifications.render import (
    Dialect,
    RenderedChat,
    RenderedEmail,
    RenderedText,
    Renderer,
    one_line,
    shipment,
)
from notifications.send_limits import SendLimits

DIGEST_KIND = "digest"
OPEN_EXCEPTIONS_LIMIT: Final = 20


def open_exceptions(
    session: Session, *, shipment_ids: list[str] | None, now: datetime
) -> tuple[list[OpenException], int]:
    """The open exceptions a digest lists (of `shipment_ids`, None: of every shipment), as of
    `now`, and how many there are in all."""
    found, total = unresolved_exceptions(
        session, shipment_ids=shipment_ids, limit=OPEN_EXCEPTIONS_LIMIT
    )
    listed = [
        open_exception(
            exception_id=row.id or 0,
            shipment_id=row.shipment_id,
            shipment_name=name,
            family_name=row.family,
            severity=row.severity,
            state=row.state,
            opened_at=row.opened_at,
            assignee=row.assignee,
            now=now,
        )
        for row, name in found
    ]
    return listed, total


class DigestRenderer(Renderer):
    """Renders one digest, whatever alert it is asked about, with the templates, loaders and
    filters of `base` (its one environment, not a second one). `tracking_urls`: the tracking
    page of each shipment that has one, by shipment id; the templates see them as `tracking`,
    (shipment, URL) pairs in the digest's order."""

    def __init__(
        self, base: Renderer, digest: Digest, tracking_urls: Mapping[str, str] | None = None
    ) -> None:
        # No super().__init__(): the environment is the base renderer's own.
        self.environment = base.environment
        self._digest = digest
        self._tracking = _tracking(digest, tracking_urls or {})

    def _digest_template(self, name: str, **context: object) -> str:
        template = self.environment.get_template(name)
        return template.render(digest=self._digest, tracking=self._tracking, **context)

    def title(self) -> str:
        return one_line(self._digest_template("title/digest.txt"))

    def email(self, alert: Alert, links: Links) -> RenderedEmail:
        subject = self.title()
        html = self._digest_template("email/digest.html", title=subject)
        return RenderedEmail(subject=subject, html=html.strip() + "\n")

    def chat(self, alert: Alert, links: Links, *, dialect: Dialect = "markdown") -> RenderedChat:
        title = self.title()
        markdown = self._digest_template("chat/digest.md", title=title, dialect=dialect)
        return RenderedChat(title=title, markdown=markdown.strip())

    def text(self, alert: Alert, links: Links) -> RenderedText:
        title = self.title()
        body = self._digest_template("text/digest.txt", title=title)
        return RenderedText(title=title, body=body.strip())


def _tracking(digest: Digest, urls: Mapping[str, str]) -> list[tuple[str, str]]:
    """(shipment in words, tracking URL) of each shipment the digest tells of, once each."""
    found: dict[str, tuple[str, str]] = {}
    for section in digest.sections:
        for alert in section.alerts:
            url = urls.get(alert.shipment_id)
            if url and alert.shipment_id not in found:
                found[alert.shipment_id] = (shipment(alert), url)
    return list(found.values())


class DigestSender:
    """Sends digests with the templates of `renderer` within `limits` (the process's deadline
    and breaker, shared with its alerts); None: limits of its own, a deadline of `timeout`
    seconds."""

    def __init__(
        self,
        renderer: Renderer,
        *,
        timeout: float = 30.0,
        limits: SendLimits | None = None,
        destination_allow: AddressAllowlist = NOTHING_INTERNAL,
        public_url: str = "",
    ) -> None:
        """`destination_allow`: the internal hosts and networks digests may reach
        (FLEXHOOK_DESTINATION_ALLOW), as `Notifier` takes it. `public_url`
        (FLEXHOOK_PUBLIC_URL): where the shipments' tracking links point; empty: none."""
        self._renderer = renderer
        self._public_url = public_url.rstrip("/")
        self._limits = limits or SendLimits(deadline=timeout)
        self._destination_allow = destination_allow

    @property
    def links_tracking_pages(self) -> bool:
        """Whether share tokens become links: only with a public URL to put them under."""
        return bool(self._public_url)

    def render(self, digest: Digest, tokens: Mapping[str, str] | None = None) -> DigestRenderer:
        """The digest's renderer; `tokens`: the alerts link's token of each shipment that has
        one, by shipment id."""
        urls = {}
        if self._public_url:
            urls = {sid: track_url(self._public_url, t) for sid, t in (tokens or {}).items()}
        return DigestRenderer(self._renderer, digest, urls)

    def send(
        self, destination: Destination, digest: Digest, *, tokens: Mapping[str, str] | None = None
    ) -> None:
        """Deliver `digest` to `destination` (with the tracking links of `tokens`, which no
        log line shows) or raise `InvalidDestination` (permanent) or `DeliveryFailed` (worth
        retrying), as `Notifier.send` does."""
        digest = seen_by(digest, audience=destination.audience, public_url=self._public_url)
        renderer = self.render(digest, tokens)
        notifier = Notifier(
            renderer, limits=self._limits, destination_allow=self._destination_allow
        )
        alert = _as_alert(digest, headline=renderer.title())
        notifier.send(destination, alert, private=(tokens or {}).values())


def _as_alert(digest: Digest, *, headline: str) -> Alert:
    """What `Notifier.send` is told it sends: kind `digest` (an informational message)."""
    return Alert(
        kind=DIGEST_KIND,
        event_id=f"digest-{digest.local_date}",
        event_type=DIGEST_KIND,
        shipment_id="-",
        headline=headline,
        occurred_at=datetime.now(UTC).isoformat(),
    )
