"""The webhook secret, API token and payload key `flexhook dev` runs with: configured ones win,
the rest are generated on first run and kept in the data dir's `dev-secrets.json` (mode 0600)
for the next."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from app.dev.errors import DevStackError
from app.dev.state import write_file

SECRETS_FILE = "dev-secrets.json"
PAYLOAD_KEY_ID = "dev"


@dataclass(frozen=True)
class GeneratedSecrets:
    """What `dev-secrets.json` holds. `payload_key` (base64 of 32 bytes) is empty in files
    written before payloads were encrypted; one is added on the next start."""

    webhook_secret: str
    api_token: str
    payload_key: str = ""


@dataclass(frozen=True)
class DevSecrets:
    """The secrets the stack runs with, and whether each came from `dev-secrets.json`.
    `payload_keys` is FLEXHOOK_PAYLOAD_KEYS for the children; empty when it is configured
    (they inherit it)."""

    webhook_secrets: tuple[str, ...]
    api_token: str
    webhook_secret_generated: bool
    api_token_generated: bool
    payload_keys: str = ""
    payload_key_generated: bool = False


def read_generated_secrets(data_dir: Path) -> GeneratedSecrets | None:
    path = data_dir / SECRETS_FILE
    try:
        raw = json.loads(path.read_text("utf-8"))
        return GeneratedSecrets(
            webhook_secret=raw["webhook_secret"],
            api_token=raw["api_token"],
            payload_key=raw.get("payload_key", ""),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DevStackError(
            f"{path} is unreadable ({exc!r}); delete it to make new secrets"
        ) from None


def _payload_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


def load_or_create_generated_secrets(data_dir: Path) -> GeneratedSecrets:
    """The data dir's generated secrets, made on first use and kept (mode 0600) for the next run;
    a file without a payload key gets one."""
    path = data_dir / SECRETS_FILE
    existing = read_generated_secrets(data_dir)
    if existing is not None and existing.payload_key:
        path.chmod(0o600)  # in case someone copied it in with looser permissions
        return existing
    if existing is not None:
        made = replace(existing, payload_key=_payload_key())
    else:
        made = GeneratedSecrets(
            webhook_secret=secrets.token_urlsafe(32),
            api_token=secrets.token_urlsafe(32),
            payload_key=_payload_key(),
        )
    write_file(path, json.dumps(asdict(made), indent=2) + "\n", mode=0o600)
    return made


def choose_secrets(
    data_dir: Path,
    *,
    webhook_secrets: tuple[str, ...],
    api_token: str | None,
    payload_keys_configured: bool = False,
) -> DevSecrets:
    """Configured values win; whatever is missing comes from the data dir's generated secrets."""
    if webhook_secrets and api_token and payload_keys_configured:
        return DevSecrets(webhook_secrets, api_token, False, False)
    generated = load_or_create_generated_secrets(data_dir)
    return DevSecrets(
        webhook_secrets=webhook_secrets or (generated.webhook_secret,),
        api_token=api_token or generated.api_token,
        webhook_secret_generated=not webhook_secrets,
        api_token_generated=not api_token,
        payload_keys="" if payload_keys_configured else f"{PAYLOAD_KEY_ID}:{generated.payload_key}",
        payload_key_generated=not payload_keys_configured,
    )
