"""Caption-dataset speed and memory: `promptkit dataset lint` end to end over a folder of caption files.

    python bench/bench_dataset.py [--count 1000000] [--jobs 1,2] [--ray 1,2] [--split] [--normalize] [--folder DIR]
                                  [--keep]

Generates WD-tagger style captions (20-40 tags drawn from the bundled Danbooru list by their real post
counts, with a few typos and aliases mixed in), one .txt file each, 5,000 to a folder. Then runs, each as a
subprocess timed from start to exit (start-up, walk, lint, output to /dev/null):
- ``promptkit dataset lint DIR -j N`` for each N of ``--jobs``;
- with ``--split``, ``dataset lint -j 1`` in one process with ``lint_prompt`` timed: how the CPU time divides
  between the rules and the work around them;
- the same files through Ray Data (``promptkit.dataset.distributed.lint_files_with_ray``) on a local Ray
  instance with each number of workers in ``--ray`` (needs ``promptkit[ray]``).
It prints captions/s, the CPU seconds of the whole process tree (on a loaded machine the CPU time shows what
-j costs when wall time cannot), the finding count (the same for every run) and peak memory: the largest
single process (``getrusage(RUSAGE_CHILDREN).ru_maxrss``, reaped children only) and the whole process tree's
total, sampled every 0.1 s (psutil if installed, else /proc): PSS, what the machine pays (pages that forked
workers share with their parent counted once), and RSS, which counts them in every process.
Goal (issue 24): 1,000,000 captions in under 5 minutes and 500 MB with ``-j 2`` on a 2-core machine.

``--folder DIR`` generates into DIR (kept) or reuses it when it already holds ``--count`` captions of this
generator; without it a temporary folder is used and removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gzip
import itertools
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PER_FOLDER = 5000
GENERATOR = "wd-tagger-captions v1"  # written to the folder's marker: a changed generator regenerates


def tag_frequencies(limit: int = 30000) -> tuple[list[str], list[int]]:
    """The most used general, character and copyright tags with their post counts."""
    names, weights = [], []
    with gzip.open(ROOT / "tag_db" / "danbooru_tags_2025-05-01.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if row[1] in ("0", "4", "3"):
                names.append(row[0])
                weights.append(int(row[2]))
            if len(names) >= limit:
                break
    return names, weights


def generate(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` caption files under ``folder`` (fast: cumulative weights once, one os.write per file)."""
    rng = random.Random(seed)
    names, weights = tag_frequencies()
    cum = list(itertools.accumulate(weights))
    total = cum[-1]
    noise = ["hires", "1grl", "long hiar", "blonde hiar", "absurd res"]
    random_, randint, pick = rng.random, rng.randint, bisect.bisect
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for i in range(count):
        tags = [names[pick(cum, random_() * total)] for _ in range(randint(20, 40))]
        if random_() < 0.1:
            tags[rng.randrange(len(tags))] = rng.choice(noise)
        sub = folder / f"{i // PER_FOLDER:04d}"
        if i % PER_FOLDER == 0:
            sub.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{sub}/{i:07d}.txt", flags, 0o644)
        try:
            os.write(fd, (", ".join(tags) + "\n").encode())
        finally:
            os.close(fd)


def prepared(folder: Path, count: int, seed: int) -> bool:
    marker = folder / ".pk-bench"
    return marker.exists() and marker.read_text() == f"{GENERATOR} count={count} seed={seed}\n"


def tree_sample(pid: int) -> tuple[int, int, dict[int, float]]:
    """(RSS, PSS, CPU seconds per process) of a process and all its descendants. RSS counts pages that
    forked workers share with their parent once per process; PSS splits them, so its sum is what the machine
    pays."""
    try:
        import psutil
    except ImportError:
        return _proc_tree_sample(pid)
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0, 0, {}
    rss = pss = 0
    cpu = {}
    for p in procs:
        try:
            info = p.memory_full_info()
            times = p.cpu_times()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        cpu[p.pid] = times.user + times.system
    return rss, pss, cpu


def _proc_tree_sample(pid: int) -> tuple[int, int, dict[int, float]]:
    children: dict[int, list[int]] = {}
    seconds: dict[int, float] = {}
    hz = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))  # fields[1]: the parent's pid
        seconds[int(entry)] = (int(fields[11]) + int(fields[12])) / hz  # utime + stime
    rss = pss = 0
    cpu = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            pass
        cpu[p] = seconds.get(p, 0.0)
        todo.extend(children.get(p, ()))
    return rss, pss, cpu


def run(command: list[str], stdout=subprocess.DEVNULL) -> tuple[float, tuple[int, int], float, str]:
    """(seconds, peak (RSS, PSS) of the process tree, its CPU seconds, stderr) of one command, sampled every
    0.1 s (CPU: each process's last sample, so a process's final 0.1 s may be missed)."""
    peak_rss = peak_pss = 0
    cpu: dict[int, float] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"})
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        rss, pss, times = tree_sample(proc.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        cpu.update(times)
        time.sleep(0.1)
    elapsed = time.perf_counter() - t0
    reader.join()
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({proc.returncode}):\n{errors[0][-2000:]}")
    return elapsed, (peak_rss, peak_pss), sum(cpu.values()), errors[0]


def _mib(peak: tuple[int, int]) -> str:
    return f"{peak[1] / 2**20:,.0f} MiB PSS ({peak[0] / 2**20:,.0f} MiB RSS)"


SPLIT_SCRIPT = """
import resource, sys, time
import promptkit.linter as linter
from promptkit.cli.main import main
lint_prompt, spent = linter.lint_prompt, [0.0]
def timed(*args, **kwargs):
    t = time.process_time()
    try:
        return lint_prompt(*args, **kwargs)
    finally:
        spent[0] += time.process_time() - t
linter.lint_prompt = timed  # dataset lint looks it up per caption
sys.argv = ["promptkit", "dataset", "lint", sys.argv[1], "-p", sys.argv[2], "-j", "1"]
try:
    main()
except SystemExit:
    pass
use = resource.getrusage(resource.RUSAGE_SELF)
total = use.ru_utime + use.ru_stime
print(f"{total:.2f} {spent[0]:.2f}", file=sys.stderr)
"""

RAY_SCRIPT = """
import sys
from promptkit.dataset.distributed import lint_files_with_ray
findings = files = 0
for path, error, found in lint_files_with_ray(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), batch_size=512):
    files += 1
    findings += len(found)
print(files, findings)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--jobs", default="1,2", help="comma-separated -j values to run (default 1,2)")
    ap.add_argument("--ray", default="1,2", help="comma-separated Ray worker counts ('' to skip)")
    ap.add_argument("--profile", default="illustrious-xl")
    ap.add_argument("--folder", type=Path, help="generate into (or reuse) this folder; it is kept")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", action="store_true",
                    help="also lint in one process (-j 1) with lint_prompt timed: the CPU s of the rules and of "
                         "everything around them (start-up, walk, read, output)")
    ap.add_argument("--normalize", action="store_true",
                    help="also time `dataset normalize --dry-run` (underscores, aliases, duplicates) per -j")
    args = ap.parse_args()

    folder = args.folder or Path(tempfile.mkdtemp(prefix="pk-bench-dataset-"))
    try:
        if prepared(folder, args.count, args.seed):
            print(f"reusing {args.count:,} captions in {folder}")
        else:
            if folder.exists() and any(folder.iterdir()):
                shutil.rmtree(folder)
            folder.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            generate(folder, args.count, args.seed)
            (folder / ".pk-bench").write_text(f"{GENERATOR} count={args.count} seed={args.seed}\n")
            print(f"generated {args.count:,} caption files in {folder} in {time.perf_counter() - t0:.1f} s")
        print(f"cpu cores: {os.cpu_count()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (on a "
              f"loaded machine compare CPU s: wall time only shows a -j speed-up on free cores)")
        for jobs in [int(j) for j in args.jobs.split(",") if j]:
            command = [sys.executable, "-m", "promptkit.cli.main", "dataset", "lint", str(folder), "-p",
                       args.profile, "-j", str(jobs)]
            with tempfile.TemporaryFile("w+") as out:
                seconds, peak, cpu, _ = run(command, out)
                out.seek(0)
                summary = out.read().rstrip("\n").rsplit("\n", 1)[-1]
            largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB -> MiB
            print(f"dataset lint -j {jobs}: {seconds:.1f} s, {args.count / seconds:,.0f} captions/s, {cpu:.1f} CPU s, "
                  f"process tree peak {_mib(peak)} (largest process so far {largest:,.0f} MiB RSS); {summary}")
        if args.split:
            command = [sys.executable, "-c", SPLIT_SCRIPT, str(folder), args.profile]
            _, _, _, said = run(command)
            total, rules = map(float, said.strip().splitlines()[-1].split())
            print(f"dataset lint -j 1, split: {total:.1f} CPU s = lint_prompt {rules:.1f} s ({rules / total:.0%}) + "
                  f"the rest {total - rules:.1f} s ({(total - rules) * 1e6 / args.count:.0f} us per caption, "
                  f"start-up included)")
        for jobs in [int(j) for j in args.jobs.split(",") if j and args.normalize]:
            command = [sys.executable, "-m", "promptkit.cli.main", "dataset", "normalize", str(folder), "--dry-run",
                       "--underscores-to-spaces", "--resolve-aliases", "--remove-duplicates", "-j", str(jobs)]
            seconds, peak, cpu, said = run(command)
            print(f"dataset normalize --dry-run -j {jobs}: {seconds:.1f} s, {args.count / seconds:,.0f} captions/s, "
                  f"{cpu:.1f} CPU s, "
                  f"process tree peak {_mib(peak)}; {said.strip().splitlines()[-1]}")
        for workers in [int(w) for w in args.ray.split(",") if w]:
            command = [sys.executable, "-c", RAY_SCRIPT, str(folder), args.profile, str(workers)]
            with tempfile.TemporaryFile("w+") as out:
                seconds, peak, cpu, _ = run(command, out)
                out.seek(0)
                files, findings = out.read().split()
            print(f"ray, {workers} local worker(s): {seconds:.1f} s (Ray start-up included), {cpu:.1f} CPU s, "
                  f"{args.count / seconds:,.0f} captions/s, process tree peak {_mib(peak)}; "
                  f"{findings} finding(s) in {files} caption file(s)")
        print("goal for 1,000,000 captions with -j 2: under 300 s and 500 MB")
    finally:
        if args.folder is None and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        elif args.folder is None:
            print(f"kept {folder} (reuse with --folder {folder})")


if __name__ == "__main__":
    main()
