"""What `flexhook dev` prints once the stack is up: what to open and what to paste.

It shows a secret only when dev generated it (it lives in the data dir anyway, and whoever ran dev
needs it). A value the user configured is named by its variable, never shown: their terminal may
be shared or recorded, and they already know where it is.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from app.dev.config import DevConfig
from app.dev.secrets import SECRETS_FILE, DevSecrets

WEBHOOK_SECRET_VARIABLE = "FLEXPORT_WEBHOOK_SECRET"
API_TOKEN_VARIABLE = "FLEXHOOK_API_TOKEN"
_INDENT = " " * 18  # under the values, past "  Webhook secret: "


def banner_lines(config: DevConfig, dev_secrets: DevSecrets) -> list[str]:
    """The banner, line by line: generated secrets with where they are kept, configured ones as
    `(from VARIABLE)` without their value."""
    data_dir_flag = ""
    if config.data_dir != Path("data").resolve():
        data_dir_flag = f" --data-dir {shlex.quote(str(config.data_dir))}"
    return [
        "",
        "flexhook dev is running; Ctrl-C stops everything.",
        "",
        f"  Web:            {config.web_url}",
        f"  Dashboard:      {config.web_url}/dashboard/  (sign in with the API token)",
        f"  Webhook:        {config.webhook_url}",
        f"  Metrics:        {config.metrics_url}",
        f"  Temporal:       {config.temporal_address}",
        f"  Temporal UI:    {config.ui_url}",
        f"  Data:           {config.data_dir}",
        "",
        *_secret_lines(
            "Webhook secret:",
            dev_secrets.webhook_secrets[0],
            generated=dev_secrets.webhook_secret_generated,
            variable=WEBHOOK_SECRET_VARIABLE,
            kept_in=config.data_dir / SECRETS_FILE,
        ),
        *_secret_lines(
            "API token:",
            dev_secrets.api_token,
            generated=dev_secrets.api_token_generated,
            variable=API_TOKEN_VARIABLE,
            kept_in=config.data_dir / SECRETS_FILE,
        ),
        "  Payload key:    "
        + (
            f"(generated, kept in {config.data_dir / SECRETS_FILE})"
            if dev_secrets.payload_key_generated
            else "(from FLEXHOOK_PAYLOAD_KEYS)"
        ),
        "",
        "Try it:",
        f"  flexhook send --sample 06_leg_departed{data_dir_flag}",
        f"  curl -H {_auth_header(dev_secrets)} {config.web_url}/api/shipments",
        "",
    ]


def banner(config: DevConfig, dev_secrets: DevSecrets) -> str:
    """`banner_lines` as one text, to print as it is."""
    return "\n".join(banner_lines(config, dev_secrets))


def _secret_lines(
    label: str, value: str, *, generated: bool, variable: str, kept_in: Path
) -> list[str]:
    if not generated:
        return [f"  {label:<16}(from {variable})"]
    return [f"  {label:<16}{value}", f"{_INDENT}(generated, kept in {kept_in})"]


def _auth_header(dev_secrets: DevSecrets) -> str:
    if dev_secrets.api_token_generated:
        return shlex.quote(f"Authorization: Bearer {dev_secrets.api_token}")
    # The shell fills it in: the configured token itself is never printed.
    return f'"Authorization: Bearer ${API_TOKEN_VARIABLE}"'
