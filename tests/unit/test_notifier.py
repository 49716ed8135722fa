"""Destinations: which URLs Apprise accepts, what they look like without secrets, config files,
routing, links, and that no credential reaches a log line."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest

from app.core.alert import Links
from app.core.audience import EXTERNAL_TAG, Audience
from notifications.destinations import NotifyConfig, wanted_by
from notifications.notifier import (
    Destination,
    InvalidDestination,
    Notifier,
    NotifyError,
    check_url,
    load_config,
)
from notifications.render import Renderer
from tests.alerts import DEPARTED
from tests.log_registry import register_secret

# Apprise's email plugin imports the deprecated `imghdr` (apprise/utils/pgp.py) when it loads.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

# Credentials in the URLs below: the suite-wide log watch fails the run if any is ever logged.
for credential in ("Hunter2Secret", "Hunter3Secret", "Sup3rSecretToken"):
    register_secret(credential)

MAILTO = "mailtos://alerts:Hunter2Secret@smtp.example.com?to=ops@example.com"
SLACK = "slack://T1/B1/C1"
# The short form of a Power Automate (Teams) webhook: host, workflow id, signature, pa=yes.
WORKFLOWS = (
    "workflows://prod-161.westeurope.logic.azure.com:443/"
    "643e69f83c8944438d68119179a10a64/KODuebWbDGYFr0z0eu-6Rj8aUKz7108W3wrNJZxFE5A/?pa=yes"
)
# The URL Teams hands out; Apprise recognises it as the same service.
WORKFLOWS_NATIVE = (
    "https://prod-161.westeurope.logic.azure.com:443/powerautomate/automations/direct/workflows/"
    "643e69f83c8944438d68119179a10a64/triggers/manual/paths/invoke?api-version=2022-03-01-preview"
    "&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=KODuebWbDGYFr0z0eu-6Rj8aUKz7108W3wrNJZxFE5A"
)
ALERT = DEPARTED


@pytest.mark.parametrize(
    ("url", "form"),
    [
        (
            "mailto://127.0.0.1:2525?from=flexhook@example.com&to=ops@example.com&mode=insecure",
            "email",
        ),
        (MAILTO, "email"),
        (SLACK, "chat"),
        ("slack://TokenA/TokenB/TokenC/#ops", "chat"),
        (WORKFLOWS, "chat"),
        (WORKFLOWS_NATIVE, "chat"),
        ("json://localhost:9999", "text"),
    ],
)
def test_check_url_accepts_what_apprise_accepts(url: str, form: str) -> None:
    destination = check_url(url)
    assert destination.form == form
    assert destination.url == url
    assert re.fullmatch(r"url-[0-9a-f]{16}", destination.id)
    assert destination.tags == frozenset()
    assert check_url(url) == destination


def test_check_url_keeps_tags_lowercased() -> None:
    assert check_url(SLACK, tags=["ETA", "shipment-418563"]).tags == {"eta", "shipment-418563"}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("bogus://x", "Apprise does not know the scheme bogus://"),
        ("msteams://team/token_a/token_b/token_c", "msteams://; Teams now goes through"),
        ("slack://", "Apprise does not accept this slack:// URL"),
        ("json://", "Apprise does not accept this json:// URL"),
        ("ops@example.com", "does not start with a scheme://"),
    ],
)
def test_check_url_refuses_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(InvalidDestination) as refused:
        check_url(url)
    assert reason in str(refused.value)
    assert isinstance(refused.value, NotifyError)


def test_msteams_reason_points_at_workflows() -> None:
    with pytest.raises(InvalidDestination, match=r"workflows://"):
        check_url("msteams://team/token_a/token_b/token_c")


def test_privacy_url_and_repr_hide_credentials() -> None:
    destination = check_url(MAILTO)
    assert "Hunter2Secret" not in destination.privacy_url
    assert destination.privacy_url.startswith("mailtos://****:****@smtp.example.com")
    assert "Hunter2Secret" not in repr(destination)
    slack = check_url("slack://TokenA/TokenB/TokenC/#ops")
    assert "TokenB" not in slack.privacy_url and "TokenB" not in repr(slack)
    workflows = check_url(WORKFLOWS)
    assert "KODuebWbDGYFr0z0eu" not in workflows.privacy_url


def test_invalid_destination_message_never_holds_the_url() -> None:
    with pytest.raises(InvalidDestination) as refused:
        check_url("slack://Sup3rSecretToken")
    assert "Sup3rSecretToken" not in str(refused.value)


YAML_CONFIG = """\
version: 1
urls:
  - mailtos://alerts:Hunter2Secret@smtp.example.com?to=ops@example.com:
      tag: departed, arrived
  - slack://TokenA/TokenB/TokenC/#ops:
      - tag: eta, shipment-418563
  - json://localhost:9999:
      tag: always
  - json://localhost:9998
"""
# Apprise's TEXT format: `tag[,tag]=URL`, or a bare URL without tags.
TEXT_CONFIG = """\
# flexhook destinations
departed,arrived=mailtos://alerts:Hunter2Secret@smtp.example.com?to=ops@example.com
eta shipment-418563 = slack://TokenA/TokenB/TokenC/#ops
always=json://localhost:9999
json://localhost:9998
"""


@pytest.mark.parametrize("content", [YAML_CONFIG, TEXT_CONFIG], ids=["yaml", "text"])
def test_load_config_reads_urls_and_tags(tmp_path: Path, content: str) -> None:
    path = tmp_path / "notifications.yml"
    path.write_text(content)
    destinations = load_config(path)
    assert [(d.form, d.tags) for d in destinations] == [
        ("email", {"departed", "arrived"}),
        ("chat", {"eta", "shipment-418563"}),
        ("text", {"always"}),
        ("text", frozenset()),
    ]
    email = destinations[0]
    # The full URL comes back from Apprise, credentials included, and still works.
    assert "Hunter2Secret" in email.url
    assert "Hunter2Secret" not in email.privacy_url
    assert check_url(email.url).privacy_url == email.privacy_url
    assert load_config(path) == destinations  # ids are stable


def test_load_config_without_a_file_is_empty(tmp_path: Path) -> None:
    assert load_config(tmp_path / "missing.yml") == []


def test_load_config_skips_urls_apprise_refuses(tmp_path: Path) -> None:
    path = tmp_path / "notifications.yml"
    path.write_text(YAML_CONFIG + "  - bogus://nothing:\n      tag: departed\n")
    assert len(load_config(path)) == 4


def test_route_selects_by_kind_shipment_tag_and_always(tmp_path: Path) -> None:
    path = tmp_path / "notifications.yml"
    path.write_text(YAML_CONFIG)
    config = NotifyConfig(path)
    email, slack, always, untagged = load_config(path)
    assert config.route(kind="departed", shipment_id="1") == [email, always]
    assert config.route(kind="customs", shipment_id="418563") == [slack, always]
    assert config.route(kind="eta", shipment_id="9") == [slack, always]
    assert config.route(kind="delivered", shipment_id="9") == [always]
    assert config.find(untagged.id) == untagged
    assert wanted_by(slack, kind="customs", shipment_id="418563")
    assert not wanted_by(untagged, kind="departed", shipment_id="418563")


TOKEN = "A" * 43  # the shape of a share token (`app.core.shares`)


def _public_notifier(*, external_flexport_link: bool = False) -> Notifier:
    return Notifier(
        Renderer(),
        public_url="https://flexhook.example.com/",
        temporal_ui_url="http://localhost:8233",
        namespace="default",
        external_flexport_link=external_flexport_link,
    )


def test_internal_links_are_the_tracking_page_the_dashboard_temporal_and_flexport() -> None:
    links = _public_notifier().links(ALERT, share_token=TOKEN)
    assert links.tracking_url == f"https://flexhook.example.com/track/{TOKEN}"
    assert links.shipment_url == "https://flexhook.example.com/dashboard/shipments/418563"
    assert links.workflow_url == (
        "http://localhost:8233/namespaces/default/workflows/flexport-event-48262090"
    )
    assert links.flexport_url == "https://app.flexport.com/shipments/418563"
    bare = Notifier(Renderer(), flexport_app_url="").links(ALERT, share_token=TOKEN)
    assert bare == Links()  # no public URL: no tracking link either


def test_external_links_open_without_signing_in_to_flexhook_or_temporal() -> None:
    links = _public_notifier().links(ALERT, audience=Audience.EXTERNAL, share_token=TOKEN)
    assert links == Links(tracking_url=f"https://flexhook.example.com/track/{TOKEN}")
    wanted = _public_notifier(external_flexport_link=True).links(
        ALERT, audience=Audience.EXTERNAL, share_token=TOKEN
    )
    assert wanted == Links(
        tracking_url=f"https://flexhook.example.com/track/{TOKEN}",
        flexport_url="https://app.flexport.com/shipments/418563",
    )
    assert _public_notifier().links(ALERT, audience=Audience.EXTERNAL) == Links()


def test_no_link_goes_to_the_api_which_answers_401_to_readers() -> None:
    notifier = _public_notifier(external_flexport_link=True)
    for audience in Audience:
        links = notifier.links(ALERT, audience=audience, share_token=TOKEN)
        assert "/api/" not in repr(links)


def test_a_configuration_tag_makes_a_destination_external(tmp_path: Path) -> None:
    path = tmp_path / "apprise.yml"
    path.write_text(
        "urls:\n"
        "  - json://127.0.0.1:9/customer:\n"
        "      tag: departed, Audience:External\n"
        "  - json://127.0.0.1:9/team:\n"
        "      tag: departed\n",
        encoding="utf-8",
    )
    customer, team = load_config(path)
    assert customer.audience is Audience.EXTERNAL and EXTERNAL_TAG in customer.tags
    assert team.audience is Audience.INTERNAL
    assert check_url(SLACK, tags=[EXTERNAL_TAG]).audience is Audience.EXTERNAL
    assert check_url(SLACK).audience is Audience.INTERNAL


def test_flexport_link_has_a_configurable_base_and_a_path_escaped_id() -> None:
    odd = dataclasses.replace(ALERT, shipment_id="41/85 63?x#y")
    assert Notifier(Renderer()).links(odd).flexport_url == (
        "https://app.flexport.com/shipments/41%2F85%2063%3Fx%23y"
    )
    staging = Notifier(Renderer(), flexport_app_url="https://staging.flexport.example/")
    assert staging.links(ALERT).flexport_url == "https://staging.flexport.example/shipments/418563"


def test_send_to_a_url_apprise_no_longer_accepts_is_permanent() -> None:
    gone = Destination(
        id="url-0000000000000000",
        url="msteams://team/token_a/token_b/token_c",
        privacy_url="msteams://team/t...a/t...b/t...c",
        form="chat",
    )
    with pytest.raises(InvalidDestination, match="msteams://"):
        Notifier(Renderer()).send(gone, ALERT)


def test_apprise_logs_carry_no_credentials_while_parsing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(1, logger="apprise")  # TRACE and up: Apprise's most talkative
    check_url(MAILTO)
    with pytest.raises(InvalidDestination):
        check_url("slack://Sup3rSecretToken/x")
    # One bad line makes Apprise refuse a TEXT file and log that line whole.
    path = tmp_path / "notifications.txt"
    path.write_text(TEXT_CONFIG + "not a valid line mailtos://x:Hunter3Secret@example.com\n")
    assert load_config(path) == []
    path.write_text(YAML_CONFIG)
    assert len(load_config(path)) == 4
    # Apprise reports the bad line (masked); its DEBUG dump of the raw file is dropped.
    assert "Invalid Apprise TEXT configuration format found not a valid line" in caplog.text
    assert "Loading raw configuration" not in caplog.text
    for secret in ("Hunter2Secret", "Hunter3Secret", "Sup3rSecretToken", "TokenB"):
        assert secret not in caplog.text
    assert all(record.levelno >= logging.DEBUG for record in caplog.records)


def test_one_target_in_the_config_and_in_a_subscription_is_one_destination(
    tmp_path: Path,
) -> None:
    config = tmp_path / "notifications.yml"
    config.write_text(f"urls:\n  - {SLACK}:\n      tag: departed\n", encoding="utf-8")

    (configured,) = load_config(config)

    assert configured.id == check_url(SLACK).id
