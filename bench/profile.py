"""Summaries of py-spy's raw (collapsed-stack) profiles: where the samples were."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")
_OWN = ("app", "workflows", "activities", "notifications", "bench")

# Where a worker's samples go, by the first of these found anywhere in a sample's stack.
WORKER_AREAS = (
    ("activity process_event: record, apply, plan", "process_event (activities/"),
    ("activity send_notification: Apprise", "send_notification (activities/"),
    ("other activities", "(activities/"),
    ("workflow activations in the sandbox", "(temporalio/worker/workflow_sandbox/"),
    ("workflow activations, outside the sandbox", "(temporalio/worker/_workflow"),
    ("activity plumbing", "(temporalio/worker/_activity.py)"),
    ("calls into the Rust core (poll, complete)", "(temporalio/bridge/"),
    ("payload conversion", "(temporalio/converter.py)"),
    ("the asyncio loop", "(asyncio/"),
)


def _frame(frame: str) -> str:
    """`handler (app/web/webhook.py:123)` -> `handler (app/web/webhook.py)`, shortening
    site-packages paths."""
    frame = _LINE.sub(")", frame.strip())
    frame = re.sub(r"\(.*?site-packages/", "(", frame)
    frame = re.sub(r"\(/\S*?/(app|workflows|activities|notifications|bench)/", r"(\1/", frame)
    return re.sub(r"\(/\S*?/lib/python3\.\d+/", "(", frame)


def package(frame: str) -> str:
    """Which code a (shortened) frame belongs to: flexhook's top-level package, the library
    (two levels for temporalio, whose sandbox and converter matter apart), or `stdlib/<module>`."""
    at = frame.rfind("(")
    path = frame[at + 1 : -1] if at >= 0 else frame
    parts = path.split("/")
    top = parts[0].removesuffix(".py")
    if top in sys.stdlib_module_names:
        return "stdlib/" + top
    if top == "temporalio" and len(parts) > 1:
        sandbox = parts[1:3] == ["worker", "workflow_sandbox"]
        return "temporalio/" + ("workflow_sandbox" if sandbox else parts[1].removesuffix(".py"))
    return top or "?"


def _area(stack: str, areas: tuple[tuple[str, str], ...]) -> str:
    return next((name for name, marker in areas if marker in stack), "other")


def load(
    path: Path, areas: tuple[tuple[str, str], ...] = ()
) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str], int]:
    """Self and inclusive sample counts per function, self counts per package, counts per
    area (`areas`: (name, marker); a sample goes to the first whose marker its stack holds),
    and the total."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    by_area: Counter[str] = Counter()
    total = 0
    for line in path.read_text("utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        packages[package(frames[-1])] += n
        if areas:
            by_area[_area(";".join(frames), areas)] += n
        for frame in set(frames):
            inclusive[frame] += n
    return own, inclusive, packages, by_area, total


def summary(
    path: Path,
    *,
    top: int = 12,
    seconds: float | None = None,
    rate: int | None = None,
    areas: tuple[tuple[str, str], ...] = (),
) -> str:
    """The samples by area (with `areas`), the top `top` by self time, by package and by
    function, and flexhook's own functions by inclusive time. With `seconds` and `rate`, also
    how much of the time some thread was sampled at all (for a --gil profile: how long a thread
    held the GIL, i.e. ran Python)."""
    own, inclusive, packages, by_area, total = load(path, areas)
    if not total:
        return "    (no samples)"
    lines = [f"    {total} samples"]
    if seconds and rate:
        lines[0] += f" = {100 * total / (seconds * rate):.0f}% of the {seconds:g} s sampled"
    if by_area:
        lines.append("    by area (the first of these in a sample's stack):")
        lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in by_area.most_common()]
    lines.append("    most self time, by package:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in packages.most_common(top)]
    lines.append("    most self time, by function:")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("    most inclusive time in flexhook's own code:")
    ours = [
        (k, v)
        for k, v in inclusive.items()
        if package(k) in _OWN and package(k) != "bench" and "(app/cli.py)" not in k
    ]
    lines += [
        f"    {100 * n / total:5.1f}%  {name}"
        for name, n in sorted(ours, key=lambda kv: -kv[1])[:top]
    ]
    return "\n".join(lines)
