"""`flexhook worker`, counting what it asks of its database: every statement by verb and every
commit, over every engine (SQLAlchemy's events on the Engine class). The counts are written to
`--counts` (JSON) every 0.2 s, so the benchmark can take a difference around a batch.

Used by the `cost` phase only: the counting costs a few microseconds per statement, and the
throughput phases run the plain `flexhook worker`.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_counts: Counter[str] = Counter()
_lock = threading.Lock()


def _statement(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
    if verb in ("COMMIT", "ROLLBACK"):
        return  # the SQLite engine ends its transactions by statement: counted once, by event
    with _lock:
        _counts[verb] += 1
        if executemany and isinstance(parameters, list | tuple):
            _counts[f"{verb}_rows"] += len(parameters)
        else:
            _counts[f"{verb}_rows"] += 1


def _commit(conn: Any) -> None:
    with _lock:
        _counts["COMMIT"] += 1


def _rollback(conn: Any) -> None:
    with _lock:
        _counts["ROLLBACK"] += 1


def _dump(path: Path) -> None:
    while True:
        with _lock:
            text = json.dumps(dict(_counts))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        time.sleep(0.2)


def read(path: Path) -> dict[str, int]:
    """The counts last written to `path` ({} before the first)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in data.items()}


def total(paths: list[Path]) -> dict[str, int]:
    """The counts of several workers, added up."""
    summed: Counter[str] = Counter()
    for path in paths:
        summed.update(read(path))
    return dict(summed)


def difference(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in sorted(after.items()) if v != before.get(k, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", type=Path, required=True)
    args = parser.parse_args()
    event.listen(Engine, "before_cursor_execute", _statement)
    event.listen(Engine, "commit", _commit)
    event.listen(Engine, "rollback", _rollback)
    threading.Thread(target=_dump, args=(args.counts,), daemon=True, name="db-counts").start()
    from app.cli import main as flexhook

    flexhook(["worker"], prog_name="flexhook")


if __name__ == "__main__":
    main()
