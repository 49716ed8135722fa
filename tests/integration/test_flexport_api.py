"""The Flexport API client against a real HTTP stand-in for Flexport: paging, filters, headers,
retries, and the refusals that keep the token at home."""

from __future__ import annotations

import json
import logging
import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest

from app.flexport_api.client import (
    FlexportApiError,
    FlexportAuthError,
    FlexportClient,
    FlexportNotFound,
    FlexportResponseError,
    FlexportUnavailable,
    retry_after_seconds,
)
from tests.flexport_standin import FlexportStandIn, sample_events
from tests.log_registry import register_payload, register_secret

pytestmark = pytest.mark.integration

PAGE_SIZE = 4
SHIPMENT_ID = 418563


def new_token() -> str:
    token = secrets.token_urlsafe(24)
    register_secret(token)  # the session fails if any log record holds it
    return token


@pytest.fixture
def events() -> list[dict[str, Any]]:
    loaded = sample_events()
    assert len(loaded) > 3 * PAGE_SIZE  # at least four pages
    for event in loaded:
        register_payload(json.dumps(event))  # nor a whole event
    return loaded


@pytest.fixture
def token() -> str:
    return new_token()


@pytest.fixture
def flexport(events: list[dict[str, Any]], token: str) -> Iterator[FlexportStandIn]:
    with FlexportStandIn(events, token=token, page_size=PAGE_SIZE) as standin:
        yield standin


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_client(base_url: str, token: str, sleeps: list[float], **options: Any) -> FlexportClient:
    settings: dict[str, Any] = {"max_retries": 3, "backoff": 0.5, "timeout": 5.0, **options}
    return FlexportClient(base_url=base_url, token=token, sleep=sleeps.append, **settings)


@pytest.fixture
def client(flexport: FlexportStandIn, token: str, sleeps: list[float]) -> Iterator[FlexportClient]:
    with make_client(flexport.base_url, token, sleeps) as api:
        yield api


def ids(events: list[dict[str, Any]]) -> list[int]:
    return [event["id"] for event in events]


def ids_of_types(events: list[dict[str, Any]], *types: str) -> list[int]:
    """The ids of the events of these types, in the stand-in's order."""
    return [event["id"] for event in events if event["type"] in types]


# -- listing --------------------------------------------------------------------------------------


def test_every_event_is_listed_once_in_order_across_pages(
    client: FlexportClient, flexport: FlexportStandIn, events: list[dict[str, Any]]
) -> None:
    listed = list(client.list_events(since=None, until=None))

    assert ids(listed) == ids(events)
    assert listed == events
    pages = flexport.requests_to("/events")
    assert len(pages) == 4
    assert [request.query.get("page") for request in pages] == [None, "2", "3", "4"]


def test_pages_report_progress_one_page_at_a_time(client: FlexportClient) -> None:
    sizes = [len(page.events) for page in client.pages(since=None, until=None)]

    assert sizes == [4, 4, 4, 2]


def test_paging_resumes_from_a_next_url_with_a_fresh_client(
    flexport: FlexportStandIn, token: str, sleeps: list[float], events: list[dict[str, Any]]
) -> None:
    # As a Temporal activity would: one page per call, only the next URL carried between calls.
    since = datetime(2026, 1, 1, tzinfo=UTC)
    listed: list[dict[str, Any]] = []
    next_url: str | None = None
    calls = 0
    while True:
        with make_client(flexport.base_url, token, sleeps) as api:
            page = api.fetch_page(next_url, since=since, until=None)
        calls += 1
        listed += page.events
        next_url = page.next_url
        if next_url is None:
            break

    assert calls == 4
    assert ids(listed) == ids(events)
    # The filter of the first call travels in every next link.
    assert {r.query["f.occurred_at.gte"] for r in flexport.requests_to("/events")} == {
        since.isoformat()
    }


def test_the_time_window_is_sent_with_its_offset_and_applied(
    client: FlexportClient, flexport: FlexportStandIn, events: list[dict[str, Any]]
) -> None:
    shanghai = timezone(timedelta(hours=8))
    since = datetime(2026, 2, 26, 16, 0, tzinfo=shanghai)  # 08:00 UTC
    until = datetime(2026, 3, 17, tzinfo=UTC)

    listed = list(client.list_events(since=since, until=until))

    first = flexport.requests_to("/events")[0]
    assert first.query["f.occurred_at.gte"] == "2026-02-26T16:00:00+08:00"
    assert first.query["f.occurred_at.lte"] == "2026-03-17T00:00:00+00:00"
    assert ids(listed) == ids_of_types(
        events,
        "/ocean/shipment_container_leg#loaded_on_board",  # 2026-02-26T08:47Z
        "/shipment_leg#departed",
        "/document#document_created",
        "/shipment_leg#updated_estimated_time_of_arrival",
        "/shipment_leg#arrived",
        "/shipment#customs_entry_release_status_released",  # 2026-03-16T01:20Z
    )


def test_type_and_shipment_filters_are_sent(
    client: FlexportClient, flexport: FlexportStandIn, events: list[dict[str, Any]]
) -> None:
    listed = list(
        client.list_events(
            since=None, until=None, type="/shipment_leg#departed", shipment_id=SHIPMENT_ID
        )
    )

    query = flexport.requests_to("/events")[0].query
    assert query == {"f.type": "/shipment_leg#departed", "f.data.shipment.id": str(SHIPMENT_ID)}
    assert ids(listed) == ids_of_types(events, "/shipment_leg#departed")


def test_a_naive_datetime_is_refused_before_any_request(
    client: FlexportClient, flexport: FlexportStandIn
) -> None:
    with pytest.raises(ValueError, match="time zone"):
        list(client.list_events(since=datetime(2026, 2, 1), until=None))

    assert flexport.requests == []


def test_every_request_carries_the_bearer_token_and_the_api_version(
    client: FlexportClient, flexport: FlexportStandIn, token: str
) -> None:
    list(client.list_events(since=None, until=None))
    client.get_event(sample_events()[0]["id"])
    client.get_shipment(SHIPMENT_ID)

    assert len(flexport.requests) == 6
    for request in flexport.requests:
        assert request.headers["authorization"] == f"Bearer {token}"
        assert request.headers["flexport-version"] == "2"
        assert request.headers["accept"] == "application/json"


def test_a_pinned_date_version_is_sent(
    flexport: FlexportStandIn, token: str, sleeps: list[float]
) -> None:
    with make_client(flexport.base_url, token, sleeps, version="2024-06-01") as api:
        api.fetch_page(None, since=None, until=None)

    assert flexport.requests[0].headers["flexport-version"] == "2024-06-01"


# -- single objects -------------------------------------------------------------------------------


def test_get_event_and_get_shipment_unwrap_the_envelope(
    client: FlexportClient, flexport: FlexportStandIn, events: list[dict[str, Any]]
) -> None:
    departed = next(e for e in events if e["type"] == "/shipment_leg#departed")

    assert client.get_event(departed["id"]) == departed
    shipment = client.get_shipment(SHIPMENT_ID)
    assert shipment["_object"] == "/shipment"
    assert shipment["id"] == SHIPMENT_ID
    assert [r.path for r in flexport.requests] == [
        f"/events/{departed['id']}",
        f"/shipments/{SHIPMENT_ID}",
    ]


def test_an_unknown_event_is_not_found(client: FlexportClient) -> None:
    with pytest.raises(FlexportNotFound) as caught:
        client.get_event(1)

    assert caught.value.status == 404


# -- retries --------------------------------------------------------------------------------------


def test_a_429_on_each_page_is_waited_out_as_retry_after_says(
    client: FlexportClient,
    flexport: FlexportStandIn,
    sleeps: list[float],
    events: list[dict[str, Any]],
) -> None:
    flexport.throttle_each_page(retry_after="2")

    listed = list(client.list_events(since=None, until=None))

    assert ids(listed) == ids(events)
    assert sleeps == [2.0, 2.0, 2.0, 2.0]
    assert len(flexport.requests_to("/events")) == 8


def test_a_retry_after_given_as_an_http_date_is_honoured(
    client: FlexportClient,
    flexport: FlexportStandIn,
    sleeps: list[float],
    events: list[dict[str, Any]],
) -> None:
    flexport.throttle_each_page(
        retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    )

    listed = list(client.list_events(since=None, until=None))

    assert ids(listed) == ids(events)
    assert len(sleeps) == 4
    assert 3 <= sleeps[0] <= 5
    assert all(0 <= wait <= 5 for wait in sleeps)


def test_a_retry_after_longer_than_max_delay_is_not_waited_for(
    client: FlexportClient, flexport: FlexportStandIn, sleeps: list[float]
) -> None:
    flexport.throttle_each_page(retry_after="3600")

    with pytest.raises(FlexportUnavailable) as caught:
        client.get_event(sample_events()[0]["id"])

    assert caught.value.status == 429
    assert caught.value.retry_after == 3600.0
    assert sleeps == []


def test_two_500s_then_success(
    client: FlexportClient,
    flexport: FlexportStandIn,
    sleeps: list[float],
    events: list[dict[str, Any]],
) -> None:
    flexport.fail_next(2)

    listed = list(client.list_events(since=None, until=None))

    assert ids(listed) == ids(events)
    assert sleeps == [0.5, 1.0]  # exponential backoff from 0.5s


def test_persistent_500s_raise_unavailable_after_max_retries(
    client: FlexportClient, flexport: FlexportStandIn, sleeps: list[float]
) -> None:
    flexport.fail_always()

    with pytest.raises(FlexportUnavailable) as caught:
        list(client.list_events(since=None, until=None))

    assert caught.value.status == 500
    assert "failed 4 time(s)" in str(caught.value)
    assert len(flexport.requests) == 4  # the first attempt and max_retries=3 more
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_timeout_is_retried(
    flexport: FlexportStandIn, token: str, sleeps: list[float], events: list[dict[str, Any]]
) -> None:
    flexport.stall_next(1.0)

    with make_client(flexport.base_url, token, sleeps, timeout=0.3) as api:
        page = api.fetch_page(None, since=None, until=None)

    assert ids(page.events) == ids(events[:PAGE_SIZE])
    assert sleeps == [0.5]


def test_an_unreachable_flexport_raises_unavailable(token: str, sleeps: list[float]) -> None:
    with socket.socket() as bound_not_listening:  # connecting to it is refused
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        api = make_client(f"http://127.0.0.1:{port}", token, sleeps)
        with api, pytest.raises(FlexportUnavailable, match="ConnectError"):
            api.get_event(1)

    assert sleeps == [0.5, 1.0, 2.0]


def test_retries_are_logged_without_token_or_payload(
    client: FlexportClient,
    flexport: FlexportStandIn,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flexport.fail_next(1, status=503)

    with caplog.at_level(logging.WARNING, logger="app.flexport_api"):
        event = client.get_event(sample_events()[0]["id"])

    messages = [r.getMessage() for r in caplog.records if r.name.startswith("app.flexport_api")]
    assert len(messages) == 1
    assert "503" in messages[0]
    assert f"/events/{event['id']}" in messages[0]
    assert token not in messages[0]
    assert event["type"] not in messages[0]


# -- refusals -------------------------------------------------------------------------------------


def test_a_wrong_token_raises_auth_error_that_does_not_show_it(
    flexport: FlexportStandIn, sleeps: list[float]
) -> None:
    wrong = new_token()

    api = make_client(flexport.base_url, wrong, sleeps)
    with api, pytest.raises(FlexportAuthError) as caught:
        list(api.list_events(since=None, until=None))

    message = str(caught.value)
    assert "401" in message
    assert "FLEXPORT_API_TOKEN" in message
    assert wrong not in message
    assert wrong not in repr(caught.value)
    assert len(flexport.requests) == 1  # not retried
    assert sleeps == []


def test_a_token_without_the_scope_raises_auth_error(
    client: FlexportClient, flexport: FlexportStandIn
) -> None:
    flexport.fail_next(1, status=403)

    with pytest.raises(FlexportAuthError, match="403"):
        client.get_shipment(SHIPMENT_ID)


def test_another_client_error_is_reported_with_flexports_message(
    client: FlexportClient, flexport: FlexportStandIn
) -> None:
    flexport.fail_next(1, status=400)

    with pytest.raises(FlexportApiError, match="told to fail") as caught:
        client.get_event(1)

    assert caught.value.status == 400
    assert len(flexport.requests) == 1


def test_a_next_link_to_another_host_is_refused_and_the_token_stays_home(
    client: FlexportClient, flexport: FlexportStandIn, token: str
) -> None:
    with FlexportStandIn(token=token) as elsewhere:
        flexport.next_origin = elsewhere.base_url  # same address, another port: another origin

        with pytest.raises(FlexportResponseError, match="refused a next link"):
            list(client.list_events(since=None, until=None))

        assert elsewhere.requests == []
    assert len(flexport.requests) == 1


@pytest.mark.parametrize(
    "link",
    [
        "https://{host}/events?page=2",  # another scheme
        "http://api.flexport.example/events?page=2",
        "/events?page=2",  # not absolute, as documented
    ],
)
def test_a_foreign_next_url_given_to_fetch_page_is_refused(
    client: FlexportClient, flexport: FlexportStandIn, link: str
) -> None:
    host = flexport.base_url.removeprefix("http://")

    with pytest.raises(FlexportResponseError):
        client.fetch_page(link.format(host=host))

    assert flexport.requests == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([{"_object": "/event", "id": 1}], id="a bare list"),
        pytest.param({"data": {"data": [], "next": None}}, id="no _object"),
        pytest.param({"_object": "/api/response", "data": []}, id="data not a collection"),
        pytest.param(
            {
                "_object": "/api/response",
                "data": {"_object": "/api/collections/paginated", "data": {"id": 1}},
            },
            id="collection data not a list",
        ),
        pytest.param(
            {
                "_object": "/api/response",
                "data": {"_object": "/api/collections/paginated", "data": [], "next": 2},
            },
            id="next not a URL",
        ),
        pytest.param("<html><body>502 Bad Gateway</body></html>", id="not JSON"),
    ],
)
def test_a_malformed_envelope_raises_response_error(
    client: FlexportClient, flexport: FlexportStandIn, body: Any
) -> None:
    flexport.answer_next_with(body)

    with pytest.raises(FlexportResponseError):
        list(client.list_events(since=None, until=None))


def test_an_event_envelope_without_an_object_raises_response_error(
    client: FlexportClient, flexport: FlexportStandIn
) -> None:
    flexport.answer_next_with({"_object": "/api/response", "version": 2, "data": None})

    with pytest.raises(FlexportResponseError, match="not an object"):
        client.get_event(1)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    assert retry_after_seconds("7", now=now) == 7.0
    assert retry_after_seconds("Sun, 01 Mar 2026 12:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Sun, 01 Mar 2026 11:00:00 GMT", now=now) == 0.0  # past
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds("nan", now=now) is None
    assert retry_after_seconds(None, now=now) is None
