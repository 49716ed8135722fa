"""`flexhook send`: deliver a payload to a flexhook endpoint signed exactly as Flexport signs it.

The body is sent byte for byte as read (the signature covers those exact bytes). Without an
explicit URL and secret, the target is the `flexhook dev` stack running on the data dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx

from app.core.signature import sign
from app.dev.secrets import read_generated_secrets
from app.dev.state import read_dev_state

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/flexport"
SEND_TIMEOUT_SECONDS = 30.0


class SendError(Exception):
    """The delivery could not be built or sent; the message says what to do."""


def sample_names() -> list[str]:
    """The samples shipped in `app/samples`, without `.json`, in order."""
    files = resources.files("app").joinpath("samples").iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


def load_sample(name: str) -> bytes:
    """A shipped sample's exact bytes; `name` may end in `.json`."""
    name = name.removesuffix(".json")
    if name not in sample_names():
        raise SendError(f"no sample named {name!r}; `flexhook send --list` shows them")
    return resources.files("app").joinpath("samples", f"{name}.json").read_bytes()


def read_payload(*, file: Path | None, sample: str | None) -> bytes:
    """The bytes to send: from `file`, or the shipped `sample` (exactly one of them)."""
    if (file is None) == (sample is None):
        raise SendError("give either a FILE or --sample NAME")
    if file is not None:
        try:
            return file.read_bytes()
        except OSError as exc:
            raise SendError(f"cannot read {file}: {exc.strerror}") from None
    assert sample is not None
    return load_sample(sample)


@dataclass(frozen=True)
class Target:
    url: str
    secret: str


def resolve_target(
    *,
    url: str | None,
    secret: str | None,
    data_dir: Path,
    configured_secrets: tuple[str, ...],
) -> Target:
    """Where to send and what to sign with: explicit values, else what `flexhook dev` runs with.

    The secret, in order: `secret`; the generated one when the stack in `data_dir` runs with it;
    the first of `configured_secrets` (FLEXPORT_WEBHOOK_SECRET); a generated one in `data_dir`.
    """
    state = read_dev_state(data_dir)
    url = url or (state.webhook_url if state else DEFAULT_WEBHOOK_URL)
    if secret:
        return Target(url, secret)
    generated = read_generated_secrets(data_dir)
    if state and state.webhook_secret_generated and generated:
        return Target(url, generated.webhook_secret)
    if configured_secrets:
        return Target(url, configured_secrets[0])
    if generated:
        return Target(url, generated.webhook_secret)
    raise SendError(
        "no webhook secret: pass --secret, set FLEXPORT_WEBHOOK_SECRET, or start `flexhook dev`"
    )


@dataclass(frozen=True)
class SignedRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def build_request(body: bytes, *, url: str, secret: str) -> SignedRequest:
    """The request Flexport would send for `body`."""
    return SignedRequest(
        url=url,
        body=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)},
    )


def post(request: SignedRequest, *, timeout: float = SEND_TIMEOUT_SECONDS) -> httpx.Response:
    """POST it; any HTTP answer is returned, a transport failure raises `SendError`."""
    try:
        return httpx.post(
            request.url, content=request.body, headers=request.headers, timeout=timeout
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        hint = "; is `flexhook dev` running?" if isinstance(exc, httpx.ConnectError) else ""
        raise SendError(f"cannot send to {request.url}: {exc}{hint}") from None
