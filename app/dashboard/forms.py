"""Reading the dashboard's POST forms: small, url-encoded, read without trusting their size."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20


class FormError(Exception):
    """A POST body the dashboard does not accept."""


async def read_fields(
    request: Request, *, max_fields: int = MAX_FORM_FIELDS
) -> dict[str, list[str]]:
    """A small `application/x-www-form-urlencoded` body as a dict of each name's values, in
    order (a selection's checkboxes share one name); at most `max_fields` fields."""
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
        return parse_qs(text, keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:
        raise FormError("form has too many fields") from None


async def read_form(request: Request) -> dict[str, str]:
    """A small `application/x-www-form-urlencoded` body as a dict (first value of each name)."""
    fields = await read_fields(request)
    return {name: values[0] for name, values in fields.items()}
