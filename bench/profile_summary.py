"""Summarize a py-spy raw (collapsed-stack) profile: time per thread, top self and inclusive frames."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from bench.common import log

__all__ = ("report", "summarize")

# "function (path/to/file.py:123)" -> ("function", "file.py")
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^():]+?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['fn']} ({path})"


def summarize(raw: str, top: int = 25) -> str:
    """Text report of a ``py-spy record --format raw --threads`` output."""
    threads: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0] if frames and frames[0].startswith(("thread", "process")) else "?"
        names = [_short(f) for f in frames if not f.startswith(("thread", "process"))]
        total += count
        threads[thread] += count
        if names:
            self_time[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    if not total:
        return "no samples"

    def table(title: str, counter: Counter[str]) -> list[str]:
        rows = [f"{title} (of {total} samples)"]
        rows += [f"  {100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(top)]
        return rows

    return "\n".join([
        *table("samples per thread", threads), "",
        *table("self time (leaf frame)", self_time), "",
        *table("inclusive time (frame anywhere on the stack)", inclusive),
    ])


def report(profile: Path, window: str) -> None:
    """After a benchmark recorded ``profile``: its summary beside it (``.summary.txt``) and on stderr."""
    if not profile.exists():
        return
    text = summarize(profile.read_text())
    profile.with_suffix(".summary.txt").write_text(text + "\n")
    log(f"profile of {window}: {profile}\n{text}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    ns = parser.parse_args()
    print(summarize(ns.profile.read_text(), ns.top))
