"""What `flexhook dev` prints: a secret it generated is shown (with where it is kept); one taken
from the environment is named by its variable and never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.dev.banner import banner, banner_lines
from app.dev.config import DevConfig
from app.dev.secrets import DevSecrets

SECRET = "whsec-4f1c8a9e2b7d"
OLD_SECRET = "whsec-old-9d3e1f"
TOKEN = "tok-7a2b9c4d5e6f"
PAYLOAD_KEY = "q0VhgA7hT9wb3o4mP2Yk8sZx1RLcJ6dNfE5uWiBvKtM="


def config(tmp_path: Path) -> DevConfig:
    return DevConfig(data_dir=tmp_path / "data", web_port=8100)


def test_generated_secrets_are_shown_with_where_they_are_kept(tmp_path: Path) -> None:
    dev_secrets = DevSecrets(
        (SECRET,),
        TOKEN,
        webhook_secret_generated=True,
        api_token_generated=True,
        payload_keys=f"dev:{PAYLOAD_KEY}",
        payload_key_generated=True,
    )
    lines = banner_lines(config(tmp_path), dev_secrets)
    kept = f"(generated, kept in {tmp_path / 'data' / 'dev-secrets.json'})"

    # The payload key is nothing to paste: only where it is kept is shown.
    assert f"  Payload key:    {kept}" in lines
    assert PAYLOAD_KEY not in "\n".join(lines)

    assert f"  Webhook secret: {SECRET}" in lines
    assert "  Metrics:        http://127.0.0.1:9465/metrics" in lines  # the web's own listener
    assert f"  API token:      {TOKEN}" in lines
    assert lines.count(f"                  {kept}") == 2
    assert f"  curl -H 'Authorization: Bearer {TOKEN}' http://127.0.0.1:8100/api/shipments" in lines
    assert "(from " not in banner(config(tmp_path), dev_secrets)


def test_secrets_from_the_environment_are_named_never_shown(tmp_path: Path) -> None:
    dev_secrets = DevSecrets(
        (SECRET, OLD_SECRET), TOKEN, webhook_secret_generated=False, api_token_generated=False
    )
    lines = banner_lines(config(tmp_path), dev_secrets)
    text = "\n".join(lines)

    assert "  Webhook secret: (from FLEXPORT_WEBHOOK_SECRET)" in lines
    assert "  API token:      (from FLEXHOOK_API_TOKEN)" in lines
    assert "  Payload key:    (from FLEXHOOK_PAYLOAD_KEYS)" in lines
    for value in (SECRET, OLD_SECRET, TOKEN):
        assert value not in text
    assert "generated" not in text
    # The example lets the shell fill in the token.
    assert (
        '  curl -H "Authorization: Bearer $FLEXHOOK_API_TOKEN" http://127.0.0.1:8100/api/shipments'
        in lines
    )


@pytest.mark.parametrize("secret_generated", [True, False])
def test_each_value_is_shown_only_when_dev_generated_it(
    tmp_path: Path, secret_generated: bool
) -> None:
    dev_secrets = DevSecrets(
        (SECRET,),
        TOKEN,
        webhook_secret_generated=secret_generated,
        api_token_generated=not secret_generated,
    )
    text = banner(config(tmp_path), dev_secrets)

    assert (SECRET in text) is secret_generated
    assert (TOKEN in text) is not secret_generated
    assert ("(from FLEXPORT_WEBHOOK_SECRET)" in text) is not secret_generated
    assert ("(from FLEXHOOK_API_TOKEN)" in text) is secret_generated


def test_the_send_example_names_a_data_dir_other_than_the_default(tmp_path: Path) -> None:
    dev_secrets = DevSecrets((SECRET,), TOKEN, True, True)
    elsewhere = banner_lines(DevConfig(data_dir=tmp_path / "my data"), dev_secrets)
    default = banner_lines(DevConfig(data_dir=Path("data").resolve()), dev_secrets)

    assert (
        f"  flexhook send --sample 06_leg_departed --data-dir '{tmp_path / 'my data'}'" in elsewhere
    )
    assert "  flexhook send --sample 06_leg_departed" in default
