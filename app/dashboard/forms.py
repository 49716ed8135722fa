"""Reading the dashboard's POST forms: small, url-encoded, read without trusting their size."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20


class FormError(Exception):
    """A POST body the dashboard does not accept."""


async def read_form(request: Request) -> dict[str, str]:
    """A small `application/x-www-form-urlencoded` body as a dict (first value of each name)."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise FormError("expected a form")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise FormError("form is too large")
        chunks.append(chunk)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    try:
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise FormError("form has too many fields") from None
    return {name: values[0] for name, values in fields.items()}
