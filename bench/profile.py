"""Summaries of py-spy's raw (collapsed-stack) profiles: where the samples were."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def _frame(frame: str) -> str:
    """`handler (app/web.py:123)` -> `handler (app/web.py)`, shortening site-packages paths."""
    frame = _LINE.sub(")", frame.strip())
    frame = re.sub(r"\(.*?site-packages/", "(", frame)
    return re.sub(r"\(/\S*?/(app|workflows|activities|bench)/", r"(\1/", frame)


def load(path: Path) -> tuple[Counter[str], Counter[str], int]:
    """Self and inclusive sample counts per function, and the total samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
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
        for frame in set(frames):
            inclusive[frame] += n
    return own, inclusive, total


def summary(path: Path, *, top: int = 12) -> str:
    own, inclusive, total = load(path)
    if not total:
        return "    (no samples)"
    lines = [f"    {total} samples; most self time:"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("    most inclusive time in flexhook's own code:")
    ours = [(k, v) for k, v in inclusive.items() if "(app/" in k or "(workflows/" in k]
    lines += [
        f"    {100 * n / total:5.1f}%  {name}"
        for name, n in sorted(ours, key=lambda kv: -kv[1])[:top]
    ]
    return "\n".join(lines)
