"""How every flexhook process connects to Temporal.

Address and namespace come from flexhook's settings (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`).
Everything else Temporal Cloud or a secured cluster needs (`TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
`TEMPORAL_TLS_CLIENT_CERT_PATH`, `TEMPORAL_TLS_CLIENT_KEY_PATH`, `TEMPORAL_GRPC_META_*`, or a
`TEMPORAL_CONFIG_FILE` profile) is read by Temporal's own environment configuration loader.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime


def connect_options(*, address: str, namespace: str) -> dict[str, Any]:
    """Keyword arguments for `Client.connect`: Temporal's env config, our address and namespace."""
    options: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    options["target_host"] = address
    options["namespace"] = namespace
    return options


async def connect(
    *, address: str, namespace: str, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    return await Client.connect(
        **connect_options(address=address, namespace=namespace), lazy=lazy, runtime=runtime
    )
