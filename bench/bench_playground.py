"""How fast the playground's JSON API answers, over HTTP on 127.0.0.1 from this process.

Each route (``/api/analyze``, ``/format``, ``/fix`` with ``all``, ``/complete``, ``/hover``) on 2 KB prompts of
real corpus tags and on large ones (``--large``, 200 KB): p50 and p99 of request to parsed answer, after one
warm-up request (the analysis processes load the tag database once). ``lint_prompt`` in-process on the same
texts is the reference for ``/api/analyze`` (ratio = what the page pays for chunks, conversions and HTTP).

Run: ``python bench/bench_playground.py`` (``--quick`` for fewer rounds).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_lsp import corpus_prompts, ms, percentile, prompt_of  # noqa: E402

PROFILE = "illustrious-xl"


def post(url: str, body: dict) -> tuple[float, int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.loads(response.read())
        return time.perf_counter() - t, response.status, answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 10
    from promptkit.linter import lint_prompt
    from promptkit.playground.server import PlaygroundServer
    from promptkit.profiles import load_profile
    from promptkit.tags import TagDB

    rng = random.Random(14)
    prompts = corpus_prompts()
    profile = load_profile(PROFILE)
    db = TagDB.for_profile(profile)
    server = PlaygroundServer().start()
    api = server.url.rstrip("/") + "/api/"
    try:
        t = time.perf_counter()
        post(api + "analyze", {"prompt": prompt_of(2048, rng, prompts), "profile": PROFILE})
        post(api + "complete", {"text": "long ha", "offset": 7, "profile": PROFILE})
        print(f"first analyze + complete (analysis processes start, tag DB loads): {ms(time.perf_counter() - t)}")
        lint_prompt(prompt_of(2048, rng, prompts), profile, db=db)
        for size, rounds in ((2048, args.rounds), (args.large, max(3, args.rounds // 8))):
            times: dict[str, list[float]] = {k: [] for k in ("analyze", "format", "fix", "complete", "hover")}
            library = []
            for _ in range(rounds):
                text = prompt_of(size, rng, prompts)
                offset = rng.randrange(len(text))
                for route, body in (("analyze", {"prompt": text}), ("format", {"text": text}),
                                    ("fix", {"text": text, "all": True}), ("complete", {"text": text, "offset": offset}),
                                    ("hover", {"text": text, "offset": offset})):
                    seconds, status, _ = post(api + route, {**body, "profile": PROFILE})
                    assert status == 200, (route, status)
                    times[route].append(seconds)
                t = time.perf_counter()
                lint_prompt(text, profile, db=db)
                library.append(time.perf_counter() - t)
            print(f"{size // 1024} KB prompts ({rounds} each):")
            for route, values in times.items():
                print(f"  /api/{route}: p50 {ms(percentile(values, 50))}, p99 {ms(percentile(values, 99))}")
            print(f"  reference: lint_prompt in-process p50 {ms(percentile(library, 50))} (analyze / lint = "
                  f"{percentile(times['analyze'], 50) / percentile(library, 50):.2f}x)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
