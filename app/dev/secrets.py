"""The webhook secret and API token `flexhook dev` runs with: configured ones win, the rest are
generated on first run and kept in the data dir's `dev-secrets.json` (mode 0600) for the next."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from app.dev.errors import DevStackError
from app.dev.state import write_file

SECRETS_FILE = "dev-secrets.json"


@dataclass(frozen=True)
class GeneratedSecrets:
    """What `dev-secrets.json` holds."""

    webhook_secret: str
    api_token: str


@dataclass(frozen=True)
class DevSecrets:
    """The secrets the stack runs with, and whether each came from `dev-secrets.json`."""

    webhook_secrets: tuple[str, ...]
    api_token: str
    webhook_secret_generated: bool
    api_token_generated: bool


def read_generated_secrets(data_dir: Path) -> GeneratedSecrets | None:
    path = data_dir / SECRETS_FILE
    try:
        raw = json.loads(path.read_text("utf-8"))
        return GeneratedSecrets(webhook_secret=raw["webhook_secret"], api_token=raw["api_token"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise DevStackError(
            f"{path} is unreadable ({exc!r}); delete it to make new secrets"
        ) from None


def load_or_create_generated_secrets(data_dir: Path) -> GeneratedSecrets:
    """The data dir's generated secrets, made on first use and kept (mode 0600) for the next run."""
    path = data_dir / SECRETS_FILE
    existing = read_generated_secrets(data_dir)
    if existing is not None:
        path.chmod(0o600)  # in case someone copied it in with looser permissions
        return existing
    made = GeneratedSecrets(
        webhook_secret=secrets.token_urlsafe(32), api_token=secrets.token_urlsafe(32)
    )
    write_file(path, json.dumps(asdict(made), indent=2) + "\n", mode=0o600)
    return made


def choose_secrets(
    data_dir: Path, *, webhook_secrets: tuple[str, ...], api_token: str | None
) -> DevSecrets:
    """Configured values win; whatever is missing comes from the data dir's generated secrets."""
    if webhook_secrets and api_token:
        return DevSecrets(webhook_secrets, api_token, False, False)
    generated = load_or_create_generated_secrets(data_dir)
    return DevSecrets(
        webhook_secrets=webhook_secrets or (generated.webhook_secret,),
        api_token=api_token or generated.api_token,
        webhook_secret_generated=not webhook_secrets,
        api_token_generated=not api_token,
    )
