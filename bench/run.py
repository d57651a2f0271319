"""Run every benchmark module (bench/bench_*.py) in turn; JSON figures to stdout and bench/results/."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO, log

FIRST = ("bench_ingest", "bench_query")   # the headline figures first, then the rest by name


def modules(only: list[str] | None) -> list[str]:
    found = sorted(p.stem for p in (REPO / "bench").glob("bench_*.py"))
    ordered = [m for m in FIRST if m in found] + [m for m in found if m not in FIRST]
    return [m for m in ordered if not only or m in only or m.removeprefix("bench_") in only]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="CI: every benchmark in its tiny mode")
    group.add_argument("--quick", action="store_true", help="short runs for local iteration")
    parser.add_argument("only", nargs="*", help="benchmark names to run (default: all), e.g. ingest query")
    args = parser.parse_args()
    flag = ["--smoke"] if args.smoke else ["--quick"] if args.quick else []
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    out_path = results / f"{time.strftime('%Y%m%dT%H%M%S')}-{mode}.jsonl"
    failed: list[str] = []
    started = time.monotonic()
    with out_path.open("w") as out:
        for name in modules(args.only):
            log(f"== {name} {' '.join(flag)}")
            proc = subprocess.Popen([sys.executable, "-m", f"bench.{name}", *flag], cwd=REPO, stdout=subprocess.PIPE,
                                    text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                out.write(line)
            if proc.wait() != 0:
                failed.append(f"{name} (exit {proc.returncode})")
    log(f"done in {time.monotonic() - started:.0f} s; figures in {Path(out_path).relative_to(REPO)}")
    if failed:
        log("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
