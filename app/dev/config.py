"""Where a `flexhook dev` stack listens and keeps its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DevConfig:
    data_dir: Path
    web_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    metrics_port: int = 9465
    namespace: str = "default"
    host: str = "127.0.0.1"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.web_url}/webhooks/flexport"

    @property
    def metrics_address(self) -> str:
        """The web process's metrics listener (`FLEXHOOK_METRICS_ADDRESS`), on loopback."""
        return f"{self.host}:{self.metrics_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.metrics_address}/metrics"

    @property
    def temporal_address(self) -> str:
        return f"{self.host}:{self.temporal_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    @property
    def codec_endpoint(self) -> str:
        """Where the Temporal UI decodes payloads: the dashboard's codec, with the session of
        whoever signed in to the dashboard (same site: both on this host)."""
        return f"{self.web_url}/dashboard/codec"
