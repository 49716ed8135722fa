"""The route table under `/api`: every operation with the role it needs and the models it reads
and answers with. The role is checked per operation (`app.web.operations.ApiRoute`), and the
OpenAPI document (`app.web.openapi`) is generated from this same table.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from app.core.access import Role
from app.web import (
    answers,
    audit,
    codec,
    events,
    exports,
    health,
    notifications,
    openapi,
    recipients,
    reconcile,
    records,
    reference,
    schemas,
    shares,
    shipments,
    subscriptions,
    tokens,
)
from app.web.exception_routes import EXCEPTION_ROUTES
from app.web.operations import ApiRoute, Operation, deprecated_operation

VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN


LIST_SUBSCRIPTIONS = Operation(
    "GET",
    subscriptions.list_subscriptions,
    VIEWER,
    "List a shipment's subscriptions",
    responses={200: answers.SubscriptionList},
    operation_id="list_subscriptions",
)

ADD_SUBSCRIPTION = Operation(
    "POST",
    subscriptions.add_subscription,
    OPERATOR,
    "Subscribe to a shipment's alerts",
    body=schemas.SubscriptionBody,
    responses={201: answers.Subscription, 400: answers.ErrorBody, 409: answers.ErrorBody},
    operation_id="add_subscription",
)

REMOVE_SUBSCRIPTION = Operation(
    "DELETE",
    subscriptions.remove_subscription,
    OPERATOR,
    "Remove a subscription",
    responses={204: None, 404: answers.ErrorBody},
    operation_id="remove_subscription",
)

LIST_RECIPIENTS = Operation(
    "GET",
    recipients.list_recipients,
    VIEWER,
    "List recipients",
    responses={200: answers.RecipientList},
    operation_id="list_recipients",
)

ADD_RECIPIENT = Operation(
    "POST",
    recipients.add_recipient,
    OPERATOR,
    "Add a recipient",
    body=schemas.RecipientBody,
    responses={201: answers.Recipient, 400: answers.ErrorBody, 409: answers.ErrorBody},
    operation_id="add_recipient",
)

REMOVE_RECIPIENT = Operation(
    "DELETE",
    recipients.remove_recipient,
    OPERATOR,
    "Remove a recipient",
    responses={204: None, 404: answers.ErrorBody},
    operation_id="remove_recipient",
)

REDRIVE_EVENT = Operation(
    "POST",
    events.redrive_event,
    OPERATOR,
    "Redrive one event",
    responses={
        200: answers.Redriven,
        404: answers.ErrorBody,
        409: answers.ErrorBody,
        422: answers.ErrorBody,
        503: answers.ErrorBody,
    },
    operation_id="redrive_event",
)

# Under `/api`, behind a bearer token; each operation names the role it needs.
API_ROUTES: list[BaseRoute] = [
    ApiRoute(
        "/shipments",
        Operation(
            "GET",
            shipments.list_shipments,
            VIEWER,
            "List shipments, a page at a time",
            query=schemas.ShipmentQuery,
            responses={200: answers.ShipmentList},
            operation_id="list_shipments",
        ),
    ),
    ApiRoute(
        "/shipments.csv",
        Operation(
            "GET",
            exports.export_shipments,
            VIEWER,
            "Export shipments as CSV",
            query=schemas.ShipmentExportQuery,
            responses={200: answers.CsvFile},
            operation_id="export_shipments",
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
        "/shipments/{id}/eta-history",
        Operation(
            "GET",
            shipments.get_eta_history,
            VIEWER,
            "The history of a shipment's ETA",
            responses={200: answers.EtaHistory, 404: answers.ErrorBody},
            operation_id="get_eta_history",
        ),
    ),
    ApiRoute(
        "/shipments/{id}/subscriptions",
        LIST_SUBSCRIPTIONS,
        ADD_SUBSCRIPTION,
    ),
    ApiRoute(
        "/shipments/{id}/subscriptions/{sid}",
        REMOVE_SUBSCRIPTION,
    ),
    ApiRoute(
        "/shipments/{id}/shares",
        Operation(
            "GET",
            shares.list_shares,
            VIEWER,
            "List a shipment's share links (never their tokens)",
            responses={200: answers.ShareList, 404: answers.ErrorBody},
            operation_id="list_shares",
        ),
        Operation(
            "POST",
            shares.create_share,
            OPERATOR,
            "Make a share link to a shipment's tracking page (its URL is answered once)",
            responses={201: answers.NewShare, 404: answers.ErrorBody, 409: answers.ErrorBody},
            operation_id="create_share",
        ),
    ),
    ApiRoute(
        "/shipments/{id}/shares/{share_id}",
        Operation(
            "DELETE",
            shares.revoke_share,
            OPERATOR,
            "Revoke a share link",
            responses={204: None, 404: answers.ErrorBody},
            operation_id="revoke_share",
        ),
    ),
    ApiRoute(
        "/shipments/{id}/shares/{share_id}/renew",
        Operation(
            "POST",
            shares.renew_share,
            OPERATOR,
            "Renew a share link",
            responses={200: answers.Share, 404: answers.ErrorBody, 409: answers.ErrorBody},
            operation_id="renew_share",
        ),
    ),
    ApiRoute(
        "/recipients",
        LIST_RECIPIENTS,
        ADD_RECIPIENT,
    ),
    ApiRoute(
        "/recipients/{id}",
        REMOVE_RECIPIENT,
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
            "List the event log, a page at a time",
            query=schemas.EventQuery,
            responses={200: answers.EventList},
            operation_id="list_events",
        ),
    ),
    ApiRoute(
        "/events.csv",
        Operation(
            "GET",
            exports.export_events,
            VIEWER,
            "Export the event log as CSV",
            query=schemas.EventExportQuery,
            responses={200: answers.CsvFile},
            operation_id="export_events",
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
        REDRIVE_EVENT,
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
        "/codec/{direction}",
        Operation(
            "POST",
            codec.convert_payloads,
            OPERATOR,
            "Decode or encode Temporal payloads (the codec endpoint of the Temporal UI and CLI)",
            body=codec.CodecBody,
            responses={
                200: codec.CodecPayloads,
                400: answers.ErrorBody,
                404: answers.ErrorBody,
                413: answers.ErrorBody,
                422: answers.ErrorBody,
            },
            operation_id="convert_payloads",
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
        deprecated_operation(
            LIST_SUBSCRIPTIONS,
            "/api/shipments/{id}/subscriptions",
            operation_id="list_shipment_subscribers",
            under_key=("subscribers", answers.SubscriberList),
        ),
        deprecated_operation(
            ADD_SUBSCRIPTION,
            "/api/shipments/{id}/subscriptions",
            operation_id="add_shipment_subscriber",
        ),
    ),
    ApiRoute(
        "/shipments/{id}/subscribers/{sid}",
        deprecated_operation(
            REMOVE_SUBSCRIPTION,
            "/api/shipments/{id}/subscriptions/{sid}",
            operation_id="remove_shipment_subscriber",
        ),
    ),
    ApiRoute(
        "/subscribers",
        deprecated_operation(
            LIST_RECIPIENTS,
            "/api/recipients",
            operation_id="list_subscribers",
            under_key=("subscribers", answers.RecipientListByOldKey),
        ),
        deprecated_operation(ADD_RECIPIENT, "/api/recipients", operation_id="add_subscriber"),
    ),
    ApiRoute(
        "/subscribers/{id}",
        deprecated_operation(
            REMOVE_RECIPIENT, "/api/recipients/{id}", operation_id="remove_subscriber"
        ),
    ),
    ApiRoute(
        "/events/{event_id}/replay",
        deprecated_operation(
            REDRIVE_EVENT, "/api/events/{event_id}/redrive", operation_id="replay_event"
        ),
    ),
    *EXCEPTION_ROUTES,  # before the catch-all below, which would take `exceptions` for a kind
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
