"""The `reads` phase's table (bench/phases/reads.py): each surface's rows shown with the small
and the large store, its p50 / p99 with each, and the large store's p99 over the small one's, on
SQLite and PostgreSQL. A ratio compares pages of the sizes in the rows column: results measured
before the phase counted rows show "—" there.

`python -m bench.reads_table` renders it from bench/results/reads.json into docs/benchmark.md,
between `BEGIN` and `END`; `--print` prints it instead (bench/results/reads-before.md is main's
table before issue 20's read fixes, printed so). tests/unit/test_bench_reads_table.py checks the
docs hold what the committed results render."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "reads.json"
DOCS = ROOT / "docs" / "benchmark.md"
BEGIN = "<!-- reads table: rendered by `python -m bench.reads_table`; do not edit -->"
END = "<!-- end of the reads table -->"
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
TARGET = 1.5  # issue 20: p99 with the large store at most 1.5 times the small store's


def size_label(events: int) -> str:
    """1000 → 1k, 1000000 → 1M, 50000 → 50k (about: the store holds whole shipments)."""
    if events >= 1_000_000:
        return f"{events / 1_000_000:g}M"
    return f"{events / 1000:g}k" if events >= 1000 else str(events)


def _cell(timing: dict[str, Any] | None) -> str:
    if timing is None:
        return "—"
    if "status" in timing:
        return f"HTTP {timing['status']}"
    return f"{timing['p50_ms']:.1f} / {timing['p99_ms']:.1f}"


def _rows(small: dict[str, Any] | None, large: dict[str, Any] | None) -> str:
    """The rows each store's answer showed, "small / large" ("—" where not counted)."""
    counts = [timing.get("rows") if timing else None for timing in (small, large)]
    if all(count is None for count in counts):
        return "—"
    return " / ".join("—" if count is None else f"{count:,}" for count in counts)


def _rows_cell(shown: dict[str, str]) -> str:
    """The rows column from each database's "small / large": one when they agree, else each
    database's in turn."""
    if len(set(shown.values())) <= 1:
        return next(iter(shown.values()), "—")
    return "; ".join(f"{NAMES.get(database, database)} {rows}" for database, rows in shown.items())


def _ratio(small: dict[str, Any] | None, large: dict[str, Any] | None) -> str:
    if not small or not large or "p99_ms" not in small or "p99_ms" not in large:
        return "—"
    ratio = large["p99_ms"] / small["p99_ms"]
    return f"{ratio:.2f}" if ratio <= TARGET else f"**{ratio:.1f}**"


def _surfaces(databases: dict[str, dict[str, Any]]) -> list[str]:
    """Every surface any store measured, in the order the phase took them (the largest store
    first: its lists are the ones with second pages)."""
    seen: dict[str, None] = {}
    for sizes in databases.values():
        for events in sorted(sizes, key=int, reverse=True):
            seen.update(dict.fromkeys(sizes[events]["surfaces"]))
    return list(seen)


def render(found: dict[str, Any]) -> list[str]:
    """The Markdown table of the results `found` (bench/results/reads.json's content)."""
    databases: dict[str, dict[str, Any]] = found["databases"]
    header, rule, spans = ["surface", "rows"], ["---", "---:"], []
    for database, sizes in databases.items():
        ordered = sorted(sizes, key=int)
        small, large = ordered[0], ordered[-1]
        spans.append((database, small, large))
        name = NAMES.get(database, database)
        header += [
            f"{name} {size_label(int(small))} p50 / p99 ms",
            f"{name} {size_label(int(large))} p50 / p99 ms",
            f"{name} p99 ratio",
        ]
        rule += ["---:"] * 3
    if spans:
        _, small, large = spans[0]
        header[1] = f"rows {size_label(int(small))} / {size_label(int(large))}"
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    for surface in _surfaces(databases):
        cells: list[str] = []
        shown: dict[str, str] = {}
        for database, small, large in spans:
            a = databases[database][small]["surfaces"].get(surface)
            b = databases[database][large]["surfaces"].get(surface)
            cells += [_cell(a), _cell(b), _ratio(a, b)]
            shown[database] = _rows(a, b)
        name = surface.replace("|", "\\|")
        lines.append("| " + " | ".join([name, _rows_cell(shown), *cells]) + " |")
    requests, warmup = found.get("requests"), found.get("warmup")
    lines += [
        "",
        f"Sequential requests, {requests} timed per surface and store after {warmup} untimed "
        f"(fewer for the slowest: {_budget_note(databases)}); p99 is the nearest rank, so "
        f"of {requests} requests the slowest. Ratios above {TARGET:g} in bold; — when the "
        "list gave no `next` cursor (one page). A ratio compares pages of the sizes in the rows "
        "column (the items each store's answer showed): a list the small store cannot fill "
        "compares a short page with a full one; the surfaces marked like for like ask both "
        "stores for the same rows.",
    ]
    return lines


def _budget_note(databases: dict[str, dict[str, Any]]) -> str:
    counts = [
        timing.get("requests", 0)
        for sizes in databases.values()
        for stored in sizes.values()
        for timing in stored["surfaces"].values()
        if "requests" in timing
    ]
    return f"at least {min(counts)}" if counts else "none"


def rewrite(text: str, lines: list[str]) -> str:
    """`text` with what lies between `BEGIN` and `END` replaced by `lines`."""
    head, found, rest = text.partition(BEGIN)
    if not found or END not in rest:
        raise ValueError(f"no {BEGIN!r} ... {END!r} section")
    _, _, tail = rest.partition(END)
    return head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail


def committed_section(text: str) -> list[str]:
    """The lines between `BEGIN` and `END` in `text`."""
    inside = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return inside.strip("\n").split("\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reads_table", description=__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--print", action="store_true", help="print the table, change nothing")
    args = parser.parse_args(argv)
    lines = render(json.loads(args.results.read_text()))
    if args.print:
        print("\n".join(lines))
        return
    args.docs.write_text(rewrite(args.docs.read_text(), lines))
    print(f"{args.docs}: reads table rewritten from {args.results}")


if __name__ == "__main__":
    main()
