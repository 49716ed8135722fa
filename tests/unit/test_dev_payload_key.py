"""`flexhook dev` encrypts payloads like production would: a payload key generated into
`dev-secrets.json` like its other secrets (a configured one wins), handed to the worker and web,
and its Temporal UI decoding through the dashboard's codec endpoint."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from app.dev.config import DevConfig
from app.dev.secrets import SECRETS_FILE, choose_secrets
from app.dev.supervisor import plan_children
from app.settings import load_settings


def test_a_key_is_generated_once_and_works_as_flexhook_payload_keys(tmp_path: Path) -> None:
    first = choose_secrets(tmp_path, webhook_secrets=(), api_token=None)
    again = choose_secrets(tmp_path, webhook_secrets=(), api_token=None)

    assert first == again and first.payload_key_generated
    key_id, key = load_settings(FLEXHOOK_PAYLOAD_KEYS=first.payload_keys).payload_keys[0]
    assert key_id == "dev" and len(key) == 32
    assert (tmp_path / SECRETS_FILE).stat().st_mode & 0o777 == 0o600


def test_a_secrets_file_from_before_gets_a_key_and_keeps_its_secrets(tmp_path: Path) -> None:
    older = {"webhook_secret": "whsec-kept", "api_token": "token-kept"}
    (tmp_path / SECRETS_FILE).write_text(json.dumps(older))

    chosen = choose_secrets(tmp_path, webhook_secrets=(), api_token=None)

    assert (chosen.webhook_secrets, chosen.api_token) == (("whsec-kept",), "token-kept")
    kept = json.loads((tmp_path / SECRETS_FILE).read_text())
    assert len(base64.b64decode(kept["payload_key"])) == 32
    assert chosen.payload_keys == f"dev:{kept['payload_key']}"


def test_configured_keys_win_and_nothing_is_generated(tmp_path: Path) -> None:
    chosen = choose_secrets(
        tmp_path, webhook_secrets=("s",), api_token="t", payload_keys_configured=True
    )

    assert (chosen.payload_keys, chosen.payload_key_generated) == ("", False)
    assert not (tmp_path / SECRETS_FILE).exists()


def test_the_children_get_the_key_and_the_ui_the_dashboard_codec(tmp_path: Path) -> None:
    config = DevConfig(data_dir=tmp_path, web_port=8100, ui_port=8300)
    chosen = choose_secrets(tmp_path, webhook_secrets=(), api_token=None)

    temporal, worker, web = plan_children(
        config, chosen, temporal="temporal", env={}, log_level="info"
    )

    assert worker.env is not None and web.env is not None
    assert worker.env["FLEXHOOK_PAYLOAD_KEYS"] == web.env["FLEXHOOK_PAYLOAD_KEYS"]
    assert worker.env["FLEXHOOK_PAYLOAD_KEYS"] == chosen.payload_keys
    flag = temporal.argv.index("--ui-codec-endpoint")
    assert temporal.argv[flag + 1] == "http://127.0.0.1:8100/dashboard/codec"
