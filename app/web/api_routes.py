"""The route table under `/api`: every operation with the role it needs and the models it reads
and answers with. The role is checked per operation (`app.web.operations.ApiRoute`), and the
OpenAPI document (`app.web.openapi`) is generated from this same table.
"""

from __future__ import annotations

from functools import partial

from starlette.routing import BaseRoute

from app.core.access import Role
from app.web import (
    answers,
    audit,
    events,
    health,
    notifications,
    openapi,
    recipients,
    reconcile,
    records,
    reference,
    schemas,
    shipments,
    subscriptions,
    tokens,
)
from app.web.deprecation import Endpoint, deprecated
from app.web.operations import ApiRoute, Operation

VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN


def _old(endpoint: Endpoint, successor: str, **keys: str) -> Endpoint:
    """An endpoint under its deprecated path (`app.web.deprecation`), answering `keys` as it
    always did."""
    return deprecated(partial(endpoint, **keys) if keys else endpoint, successor=successor)


# Under `/api`, behind a bearer token; each operation names the role it needs.
API_ROUTES: list[BaseRoute] = [
    ApiRoute(
        "/shipments",
        Operation(
            "GET",
            shipments.list_shipments,
            VIEWER,
            "List shipments",
            query=schemas.ShipmentQuery,
            responses={200: answers.ShipmentList},
            operation_id="list_shipments",
        ),
    ),
    ApiRoute(
        "/shipments/{id}",
        Operation(
            "GET",
            shipments.get_shipment,
            VIEWER,
            "Get a shipment",
            responses={200: answers.ShipmentDocument, 404: answers.ErrorBody},
            operation_id="get_shipment",
        ),
    ),
    ApiRoute(
        "/shipments/{id}/subscriptions",
        Operation(
            "GET",
            subscriptions.list_subscriptions,
            VIEWER,
            "List a shipment's subscriptions",
            responses={200: answers.SubscriptionList},
            operation_id="list_subscriptions",
        ),
        Operation(
            "POST",
            subscriptions.add_subscription,
            OPERATOR,
            "Subscribe to a shipment's alerts",
            body=schemas.SubscriptionBody,
            responses={201: answers.Subscription, 400: answers.ErrorBody},
            operation_id="add_subscription",
        ),
    ),
    ApiRoute(
        "/shipments/{id}/subscriptions/{sid}",
        Operation(
            "DELETE",
            subscriptions.remove_subscription,
            OPERATOR,
            "Remove a subscription",
            responses={204: None, 404: answers.ErrorBody},
            operation_id="remove_subscription",
        ),
    ),
    ApiRoute(
        "/recipients",
        Operation(
            "GET",
            recipients.list_recipients,
            VIEWER,
            "List recipients",
            responses={200: answers.RecipientList},
            operation_id="list_recipients",
        ),
        Operation(
            "POST",
            recipients.add_recipient,
            OPERATOR,
            "Add a recipient",
            body=schemas.RecipientBody,
            responses={201: answers.Recipient, 400: answers.ErrorBody, 409: answers.ErrorBody},
            operation_id="add_recipient",
        ),
    ),
    ApiRoute(
        "/recipients/{id}",
        Operation(
            "DELETE",
            recipients.remove_recipient,
            OPERATOR,
            "Remove a recipient",
            responses={204: None, 404: answers.ErrorBody},
            operation_id="remove_recipient",
        ),
    ),
    ApiRoute(
        "/notifications",
        Operation(
            "GET",
            notifications.list_notifications,
            VIEWER,
            "List the alert ledger",
            query=schemas.NotificationQuery,
            responses={200: answers.NotificationList},
            operation_id="list_notifications",
        ),
    ),
    ApiRoute(
        "/events",
        Operation(
            "GET",
            events.list_events,
            VIEWER,
            "List the event log",
            query=schemas.EventQuery,
            responses={200: answers.EventList},
            operation_id="list_events",
        ),
    ),
    ApiRoute(
        "/events/{event_id}",
        Operation(
            "GET",
            events.get_event,
            VIEWER,
            "Get one event",
            responses={200: answers.EventDetail, 404: answers.ErrorBody},
            operation_id="get_event",
        ),
    ),
    ApiRoute(
        "/events/{event_id}/redrive",
        Operation(
            "POST",
            events.redrive_event,
            OPERATOR,
            "Redrive one event",
            responses={
                200: answers.Redriven,
                404: answers.ErrorBody,
                422: answers.ErrorBody,
                503: answers.ErrorBody,
            },
            operation_id="redrive_event",
        ),
    ),
    ApiRoute(
        "/spool",
        Operation(
            "GET",
            health.spool_stats,
            VIEWER,
            "The spool's depth and age",
            responses={200: answers.SpoolStats},
            operation_id="get_spool",
        ),
    ),
    ApiRoute(
        "/reconcile",
        Operation(
            "GET",
            reconcile.list_runs,
            VIEWER,
            "Recent reconcile runs",
            query=schemas.ReconcileQuery,
            responses={200: answers.ReconcileRuns},
            operation_id="list_reconcile_runs",
        ),
    ),
    ApiRoute(
        "/tokens",
        Operation(
            "GET",
            tokens.list_tokens,
            ADMIN,
            "List named tokens",
            responses={200: answers.TokenList},
            operation_id="list_tokens",
        ),
        Operation(
            "POST",
            tokens.create_token,
            ADMIN,
            "Create a named token",
            body=schemas.TokenBody,
            responses={201: answers.NewToken, 400: answers.ErrorBody, 409: answers.ErrorBody},
            operation_id="create_token",
        ),
    ),
    ApiRoute(
        "/tokens/{name}",
        Operation(
            "DELETE",
            tokens.revoke_token,
            ADMIN,
            "Revoke a token",
            responses={204: None, 404: answers.ErrorBody},
            operation_id="revoke_token",
        ),
    ),
    ApiRoute(
        "/audit",
        Operation(
            "GET",
            audit.list_audit,
            ADMIN,
            "The audit trail",
            query=schemas.AuditQuery,
            responses={200: answers.AuditTrail},
            operation_id="list_audit",
        ),
    ),
    ApiRoute(
        "/openapi.json",
        Operation(
            "GET",
            openapi.get_document,
            VIEWER,
            "This API's OpenAPI document",
            responses={200: answers.OpenApiDocument},
            operation_id="get_openapi",
        ),
    ),
    ApiRoute(
        "/reference",
        Operation(
            "GET",
            reference.get_reference,
            VIEWER,
            "This API's reference, as a page",
            responses={200: answers.HtmlPage},
            operation_id="get_reference",
        ),
    ),
    # The names before the glossary settled them (docs/api.md, "Deprecated names").
    ApiRoute(
        "/shipments/{id}/subscribers",
        Operation(
            "GET",
            _old(
                subscriptions.list_subscriptions,
                "/api/shipments/{id}/subscriptions",
                key="subscribers",
            ),
            VIEWER,
            "List a shipment's subscriptions (deprecated path)",
            responses={200: answers.SubscriberList},
            operation_id="list_shipment_subscribers",
            deprecated=True,
        ),
        Operation(
            "POST",
            _old(subscriptions.add_subscription, "/api/shipments/{id}/subscriptions"),
            OPERATOR,
            "Subscribe to a shipment's alerts (deprecated path)",
            body=schemas.SubscriptionBody,
            responses={201: answers.Subscription, 400: answers.ErrorBody},
            operation_id="add_shipment_subscriber",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/shipments/{id}/subscribers/{sid}",
        Operation(
            "DELETE",
            _old(subscriptions.remove_subscription, "/api/shipments/{id}/subscriptions/{sid}"),
            OPERATOR,
            "Remove a subscription (deprecated path)",
            responses={204: None, 404: answers.ErrorBody},
            operation_id="remove_shipment_subscriber",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/subscribers",
        Operation(
            "GET",
            _old(recipients.list_recipients, "/api/recipients", key="subscribers"),
            VIEWER,
            "List recipients (deprecated path)",
            responses={200: answers.RecipientListByOldKey},
            operation_id="list_subscribers",
            deprecated=True,
        ),
        Operation(
            "POST",
            _old(recipients.add_recipient, "/api/recipients"),
            OPERATOR,
            "Add a recipient (deprecated path)",
            body=schemas.RecipientBody,
            responses={201: answers.Recipient, 400: answers.ErrorBody, 409: answers.ErrorBody},
            operation_id="add_subscriber",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/subscribers/{id}",
        Operation(
            "DELETE",
            _old(recipients.remove_recipient, "/api/recipients/{id}"),
            OPERATOR,
            "Remove a recipient (deprecated path)",
            responses={204: None, 404: answers.ErrorBody},
            operation_id="remove_subscriber",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/events/{event_id}/replay",
        Operation(
            "POST",
            _old(events.redrive_event, "/api/events/{event_id}/redrive"),
            OPERATOR,
            "Redrive one event (deprecated path)",
            responses={
                200: answers.Redriven,
                404: answers.ErrorBody,
                422: answers.ErrorBody,
                503: answers.ErrorBody,
            },
            operation_id="replay_event",
            deprecated=True,
        ),
    ),
    ApiRoute(
        "/{kind}/{key}",
        Operation(
            "GET",
            records.get_record,
            VIEWER,
            "Get one record",
            responses={200: answers.Record, 404: answers.ErrorBody},
            operation_id="get_record",
        ),
    ),
]
