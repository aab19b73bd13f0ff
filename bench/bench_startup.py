"""Start-up cost: `promptkit lint PROMPT --profile X` in a fresh process against a bare `python -c pass`,
and the language server's spawn to its `initialize` answer.

    python bench/bench_startup.py [--runs 15] [--no-lsp]

Every command runs with the interpreter that runs this script (``sys.executable``, never a pyenv shim, which
alone costs tens of milliseconds), from the repository root, after one warm-up run that builds the tag
stores and writes the bytecode caches (``PYTHONDONTWRITEBYTECODE`` is dropped for the children: an installed
package has its ``.pyc`` files, and recompiling every module on each start is no start-up cost of promptkit's).
Runs of the commands are interleaved so that load on a shared machine hits them alike; medians are printed,
with each command's ratio to ``python -c pass``.

Goals (issue 24): lint at most 15x `python -c pass` (about 150 ms on the 2-core machine); the language server
answers `initialize` within 0.5 s of its spawn. A lint that meets an unknown tag (``1girl, long hiar``) is timed
too: it searches the typo index and asks the word lists. Afterwards the imports of one lint are listed: what
they cost (``-X importtime``), whether torch/transformers/diffusers came in (they must not), which data was
loaded, and which tag stores and compiled word lists were opened (a Danbooru profile opens Danbooru's store
only, also when a typo is searched).

The sandbox this was written in adds ~20 ms to every interpreter start (a ``.pth`` file that imports certifi),
which `python -c pass` pays too: compare milliseconds across machines, and ratios only on the same one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "1girl, smile"
TYPO = "1girl, long hiar"
PROFILES = ("animagine-xl-3.1", "pony-v6", None)  # a Danbooru profile, an e621-first one, the default choice
LSP_INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"processId": None, "rootUri": None, "capabilities": {}}}


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def lint_cmd(profile: str | None, prompt: str = PROMPT) -> list[str]:
    cmd = [sys.executable, "-m", "promptkit.cli.main", "lint", prompt]
    return cmd + ["--profile", profile] if profile else cmd


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - t0


def lsp_initialize(env: dict[str, str]) -> float:
    """Seconds from spawning `promptkit lsp` to reading its answer to `initialize`."""
    body = json.dumps(LSP_INIT).encode()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "promptkit.cli.main", "lsp"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        proc.stdin.flush()
        while True:  # notifications may come first
            length = 0
            while True:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError("the language server closed its output before answering initialize")
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line in (b"\r\n", b"\n"):
                    break
            answer = json.loads(proc.stdout.read(length))
            if answer.get("id") == 1:
                break
        elapsed = time.perf_counter() - t0
        if "result" not in answer:
            raise RuntimeError(f"unexpected answer to initialize: {answer}")
        return elapsed
    finally:
        proc.kill()
        proc.wait()


def import_report(profile: str, env: dict[str, str], prompt: str = PROMPT, with_imports: bool = True) -> None:
    probe = ("import sys, runpy, sqlite3\n"
             "opened = []\n"
             "real = sqlite3.connect\n"
             "sqlite3.connect = lambda path, *a, **k: (opened.append(str(path).split('?')[0].split('/')[-2:]), "
             "real(path, *a, **k))[1]\n"
             "sys.argv = ['promptkit', 'lint', %r, '--profile', %r]\n"
             "try:\n    runpy.run_module('promptkit.cli.main', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('@@ heavy modules imported:', [m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules])\n"
             "print('@@ not imported (unused here):', [m for m in ('rapidfuzz', 'regex', 'rich', 'promptkit.cli.dataset',"
             " 'promptkit.templates', 'promptkit.syntax.dialects.compel') if m not in sys.modules])\n"
             "loaded = lambda mod, fn: bool(mod in sys.modules and getattr(sys.modules[mod], fn).cache_info().currsize)\n"
             "print('@@ English word list loaded whole:', loaded('promptkit.linter.words', 'word_counts'),"
             " ' CLIP vocabulary loaded:', loaded('promptkit.tokens.clip', 'vocabulary'))\n"
             "print('@@ tag stores opened:', sorted({f.split('-')[0] for d, f in opened if d != 'linter'}),"
             " ' compiled word lists read:', sorted({f.rsplit('-', 1)[0] for d, f in opened if d == 'linter'}))\n"
             % (prompt, profile))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT)
    shown = ["  " + line[3:] for line in out.stdout.splitlines() if line.startswith("@@ ")]
    print("\n".join(shown) if shown else out.stderr.strip()[-2000:])
    if not with_imports:
        return
    imports = subprocess.run([sys.executable, "-X", "importtime", *lint_cmd(profile)[1:]], capture_output=True,
                             text=True, env=env, cwd=ROOT).stderr
    rows = []
    for line in imports.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print("  largest cumulative imports (ms, -X importtime):")
    for cumulative, name in sorted(rows, reverse=True)[:10]:
        print(f"    {cumulative / 1e3:7.1f}  {name.strip()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-lsp", action="store_true", help="skip the language server's start-up")
    args = ap.parse_args()
    env = child_env()
    commands = {"python -c pass": [sys.executable, "-c", "pass"]}
    for profile in PROFILES:
        label = f"promptkit lint {PROMPT!r}" + (f" --profile {profile}" if profile else " (default profile)")
        commands[label] = lint_cmd(profile)
    # an unknown tag: the typo search and the word lists (the stores' index and compiled lists, not loaded whole)
    commands[f"promptkit lint {TYPO!r} --profile animagine-xl-3.1"] = lint_cmd("animagine-xl-3.1", TYPO)
    for cmd in commands.values():  # warm-up: stores built, bytecode written
        subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
    times: dict[str, list[float]] = {label: [] for label in commands}
    lsp: list[float] = []
    if not args.no_lsp:
        lsp_initialize(env)
    for _ in range(args.runs):
        for label, cmd in commands.items():
            times[label].append(timed(cmd, env))
        if not args.no_lsp:
            lsp.append(lsp_initialize(env))
    bare = statistics.median(times["python -c pass"])
    print(f"{sys.executable}, median of {args.runs} runs, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"  {label:<62} {median * 1e3:6.0f} ms  {median / bare:5.1f}x")
    print("  goal: lint of '1girl, smile' at most 15x python -c pass (about 150 ms on the 2-core machine)")
    if lsp:
        print(f"  promptkit lsp: spawn -> initialize answered              {statistics.median(lsp) * 1e3:6.0f} ms  "
              f"(max {max(lsp) * 1e3:.0f} ms; goal < 500 ms)")
    for profile in ("animagine-xl-3.1", "pony-v6"):
        print(f"lint {PROMPT!r} --profile {profile}:")
        import_report(profile, env)
    print(f"lint {TYPO!r} --profile animagine-xl-3.1 (a typo is searched: e621 must still not be opened):")
    import_report("animagine-xl-3.1", env, TYPO, with_imports=False)


if __name__ == "__main__":
    main()
