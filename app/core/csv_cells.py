"""Cells of a CSV export, safe to open in a spreadsheet (OWASP's "CSV injection").

A spreadsheet reads a cell that starts with `=`, `+`, `-` or `@` as a formula, and one that
starts with a tab or a carriage return after stripping it; a formula can fetch addresses or run
commands on the reader's machine. Every text cell that starts so is written with a single quote
in front, which the spreadsheet shows as text (the quote is visible in a plain text editor).

Only text that came from outside (Flexport's names, ids, errors) can start so. Values flexhook
writes itself are never touched: times are ISO 8601 (they start with a digit), booleans
`true`/`false`, and numbers as Python writes them, so a negative number stays a number (the
exports hold no numeric column today; a future one keeps its sign).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Final

# The first characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
QUOTE: Final = "'"


def neutralised(text: str) -> str:
    """`text`, with a single quote in front if a spreadsheet would read it as a formula."""
    return QUOTE + text if text.startswith(FORMULA_STARTS) else text


def cell(value: object) -> str:
    """One value as a CSV cell: empty for None, ISO 8601 for times, `true`/`false`, numbers as
    they are, and any other value as neutralised text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return neutralised(str(value))


def row(values: Iterable[object]) -> list[str]:
    """A row of values as CSV cells."""
    return [cell(value) for value in values]
