"""Start-up cost of the main job: `promptkit lint "1girl, solo"` in a fresh process, and what it imports.

    python bench/bench_startup.py [--runs 5]

Prints the median wall time of the command (after the tag database is built), the bare interpreter start
for comparison, and whether torch/transformers/diffusers were imported (they must not be).
Goal (issue 4): < 0.3 s wall on the 2-core machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    exe = shutil.which("promptkit") or sys.executable
    cmd = [exe, "lint", "1girl, solo"] if exe != sys.executable else [exe, "-m", "promptkit.cli.main", "lint", "1girl, solo"]
    subprocess.run(cmd, capture_output=True)  # builds the tag database once if needed
    bare = wall([sys.executable, "-c", "pass"], args.runs)
    lint = wall(cmd, args.runs)
    print(f"python -c pass               : {bare * 1e3:6.0f} ms")
    print(f"promptkit lint '1girl, solo' : {lint * 1e3:6.0f} ms (goal < 300 ms)")
    probe = ("import sys; from promptkit.cli.main import cli; from click.testing import CliRunner; "
             "CliRunner().invoke(cli, ['lint', '1girl, solo']); "
             "print([m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
    print(f"heavy modules imported by lint: {out}")
    imports = subprocess.run([sys.executable, "-X", "importtime", "-c", probe], capture_output=True, text=True).stderr
    rows = []
    for line in imports.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print("largest cumulative imports (ms):")
    for cumulative, name in sorted(rows, reverse=True)[:8]:
        print(f"  {cumulative / 1e3:7.1f}  {name.strip()}")


if __name__ == "__main__":
    main()
