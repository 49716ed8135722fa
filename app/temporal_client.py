"""How every flexhook process connects to Temporal.

Address and namespace come from flexhook's settings (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`).
Everything else Temporal Cloud or a secured cluster needs (`TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
`TEMPORAL_TLS_CLIENT_CERT_PATH`, `TEMPORAL_TLS_CLIENT_KEY_PATH`, `TEMPORAL_GRPC_META_*`, or a
`TEMPORAL_CONFIG_FILE` profile) is read by Temporal's own environment configuration loader.
With `payload_keys` (`FLEXHOOK_PAYLOAD_KEYS`) every payload is encrypted (`app.payload_codec`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.client import Client, Interceptor
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime

from app.payload_codec import PayloadKeys, data_converter


def connect_options(
    *, address: str, namespace: str, payload_keys: PayloadKeys = ()
) -> dict[str, Any]:
    """Keyword arguments for `Client.connect`: Temporal's env config, our address and namespace,
    and the data converter (encrypting with `payload_keys` when there are any)."""
    options: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    options["target_host"] = address
    options["namespace"] = namespace
    if payload_keys:
        options["data_converter"] = data_converter(payload_keys)
    return options


async def connect(
    *,
    address: str,
    namespace: str,
    lazy: bool = False,
    runtime: Runtime | None = None,
    payload_keys: PayloadKeys = (),
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client; `interceptors` (the tracing one, `app.telemetry`) serve its workers too."""
    return await Client.connect(
        **connect_options(address=address, namespace=namespace, payload_keys=payload_keys),
        lazy=lazy,
        runtime=runtime,
        interceptors=interceptors,
    )
