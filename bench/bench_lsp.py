"""How fast ``promptkit lsp`` answers, measured over JSON-RPC from a separate client process.

Goals (issue 14): start-up < 1 s with the tag DB built; diagnostics for a 2 KB prompt < 50 ms after
start-up; completion p99 < 30 ms. Measured:

- start-up: process spawn to the ``initialize`` answer (the server is usable), median of ``--starts`` runs;
  and spawn to the first diagnostics of a 2 KB prompt opened at once (includes loading the tag database and
  the suggestion index in the analysis process);
- diagnostics: ``didOpen`` of a fresh 2 KB prompt of real corpus tags to its ``publishDiagnostics``, after
  start-up; a ``didChange`` to another fresh prompt; and a ``didChange`` that types one more tag (what editing
  is); debounce 0. The library's own ``lint_prompt`` on the same text, in this process, is the reference
  (ratio = what the server adds);
- completion and hover: request to answer, at prefixes of real tags typed at the end of a 2 KB document;
- formatting, and diagnostics, completion and hover at random offsets, on 2 KB and large (``--large``, 200 KB)
  documents; ``format_prompt`` in-process is the reference for formatting.

Run: ``python bench/bench_lsp.py`` (``--quick`` for fewer rounds). Every wait has a deadline; the server is
shut down at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from lsp_wire import RpcClient  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "real_prompts.jsonl"
PROFILE = "illustrious-xl"


def corpus_prompts() -> list[str]:
    if not CORPUS.exists():
        return ["1girl, solo, long hair, smile, looking at viewer, blue eyes, school uniform, outdoors"] * 50
    out = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            if record.get("prompt"):
                out.append(record["prompt"])
    return out


def prompt_of(size: int, rng: random.Random, prompts: list[str]) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        p = rng.choice(prompts)
        parts.append(p)
        total += len(p) + 2
    return ", ".join(parts)[:size]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--docs", type=int, default=30)
    parser.add_argument("--completions", type=int, default=300)
    parser.add_argument("--large", type=int, default=200_000, help="characters of the large documents")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.starts, args.docs, args.completions = 2, 8, 60
    rng = random.Random(14)
    prompts = corpus_prompts()
    options = {"promptkit": {"profile": PROFILE, "debounce_ms": 0}}

    # -- start-up ------------------------------------------------------------------------------------------
    initialize, first = [], []
    for _ in range(args.starts):
        client = RpcClient()
        try:
            client.initialize(options)
            initialize.append(time.perf_counter() - client.started)
            text = prompt_of(2048, rng, prompts)
            client.notify("textDocument/didOpen", {"textDocument": {
                "uri": "file:///bench/first.prompt", "languageId": "prompt", "version": 1, "text": text}})
            when, _ = client.diagnostics("file:///bench/first.prompt", 1, timeout=120)
            first.append(when - client.started)
        finally:
            client.close()
    print(f"start-up (spawn -> initialize answered): median {ms(statistics.median(initialize))}, "
          f"max {ms(max(initialize))}  [goal < 1000 ms]")
    print(f"spawn -> first diagnostics of a 2 KB prompt (tag DB and suggestion index loaded): "
          f"median {ms(statistics.median(first))}")

    # -- diagnostics, completion, hover after start-up ------------------------------------------------------
    from promptkit.linter import format_prompt, lint_prompt
    from promptkit.profiles import load_profile
    from promptkit.tags import TagDB

    profile = load_profile(PROFILE)
    db = TagDB.for_profile(profile)
    lint_prompt(prompt_of(2048, rng, prompts), profile, db=db)  # the reference warm too (suggestion index)
    client = RpcClient()
    try:
        client.initialize(options)
        warm = prompt_of(2048, rng, prompts)
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": "file:///bench/warm.prompt", "languageId": "prompt", "version": 1, "text": warm}})
        client.diagnostics("file:///bench/warm.prompt", 1, timeout=120)
        opened, changed, typed, library = [], [], [], []
        for i in range(args.docs):
            text = prompt_of(2048, rng, prompts)
            uri = f"file:///bench/doc{i}.prompt"
            sent = client.notify("textDocument/didOpen", {"textDocument": {
                "uri": uri, "languageId": "prompt", "version": 1, "text": text}})
            when, _ = client.diagnostics(uri, 1)
            opened.append(when - sent)
            other = prompt_of(2048, rng, prompts)
            sent = client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                                            "contentChanges": [{"text": other}]})
            when, _ = client.diagnostics(uri, 2)
            changed.append(when - sent)
            edit = other + ", " + rng.choice(prompts).split(",")[0][:30]  # a tag typed at the end
            sent = client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                                            "contentChanges": [{"text": edit}]})
            when, _ = client.diagnostics(uri, 3)
            typed.append(when - sent)
            t = time.perf_counter()
            lint_prompt(text, profile, db=db)
            library.append(time.perf_counter() - t)
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        lib = statistics.median(library)
        print(f"diagnostics, 2 KB prompt, didOpen -> publish: median {ms(statistics.median(opened))}, "
              f"p90 {ms(percentile(opened, 90))}, max {ms(max(opened))}  [goal < 50 ms]")
        print(f"diagnostics, 2 KB prompt, didChange -> publish (debounce 0): median "
              f"{ms(statistics.median(changed))}, p90 {ms(percentile(changed, 90))}")
        print(f"diagnostics, the same 2 KB prompt with one more tag typed at its end (debounce 0): median "
              f"{ms(statistics.median(typed))}, p90 {ms(percentile(typed, 90))}  [goal < 50 ms]")
        print(f"  reference: lint_prompt in-process on the same prompts: median {ms(lib)} "
              f"(server / library = {statistics.median(opened) / lib:.2f}x)")

        client.notify("workspace/didChangeConfiguration",  # typing: lint after 150 ms of quiet, as by default
                      {"settings": {"promptkit": {"profile": PROFILE, "debounce_ms": 150}}})
        base = prompt_of(2048, rng, prompts) + ", "
        uri = "file:///bench/complete.prompt"
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "prompt", "version": 1, "text": base}})
        client.diagnostics(uri, 1)
        tags = [t.strip() for p in prompts for t in p.split(",") if 3 <= len(t.strip()) <= 30]
        completion, hover, library = [], [], []
        version = 1
        for _ in range(args.completions):
            tag = rng.choice(tags)
            prefix = tag[: rng.randint(1, min(6, len(tag)))]
            version += 1
            text = base + prefix
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                     "contentChanges": [{"text": text}]})
            seconds, answer = client.request("textDocument/completion", {
                "textDocument": {"uri": uri}, "position": {"line": 0, "character": len(text)}})
            completion.append(seconds)
            seconds, _ = client.request("textDocument/hover", {
                "textDocument": {"uri": uri}, "position": {"line": 0, "character": 3}})
            hover.append(seconds)
            t = time.perf_counter()
            db.complete(prefix, limit=20)
            library.append(time.perf_counter() - t)
        print(f"completion ({len(completion)} requests, prefixes of corpus tags, 2 KB document): "
              f"p50 {ms(percentile(completion, 50))}, p99 {ms(percentile(completion, 99))}, "
              f"max {ms(max(completion))}  [goal p99 < 30 ms]")
        print(f"  reference: TagDB.complete in-process: p50 {ms(percentile(library, 50))}, "
              f"p99 {ms(percentile(library, 99))}")
        print(f"hover: p50 {ms(percentile(hover, 50))}, p99 {ms(percentile(hover, 99))}")

        # -- formatting, and every request on a large document ------------------------------------------------
        client.notify("workspace/didChangeConfiguration",
                      {"settings": {"promptkit": {"profile": PROFILE, "debounce_ms": 0}}})
        for size, rounds in ((2048, args.docs), (args.large, max(3, args.docs // 6))):
            label = f"{size // 1024} KB"
            opened, formatting, library, completion, hover = [], [], [], [], []
            for i in range(rounds):
                text = prompt_of(size, rng, prompts)
                uri = f"file:///bench/fmt{size}-{i}.prompt"
                sent = client.notify("textDocument/didOpen", {"textDocument": {
                    "uri": uri, "languageId": "prompt", "version": 1, "text": text}})
                when, _ = client.diagnostics(uri, 1, timeout=300)
                opened.append(when - sent)
                seconds, _ = client.request("textDocument/formatting", {
                    "textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": True}}, timeout=300)
                formatting.append(seconds)
                t = time.perf_counter()
                format_prompt(text, profile, db=db)
                library.append(time.perf_counter() - t)
                for _ in range(10):
                    offset = rng.randrange(len(text))
                    seconds, _ = client.request("textDocument/completion", {
                        "textDocument": {"uri": uri}, "position": {"line": 0, "character": offset}})
                    completion.append(seconds)
                    seconds, _ = client.request("textDocument/hover", {
                        "textDocument": {"uri": uri}, "position": {"line": 0, "character": offset}})
                    hover.append(seconds)
                client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            print(f"{label} documents ({rounds}): diagnostics didOpen -> publish p50 {ms(percentile(opened, 50))}, "
                  f"p99 {ms(percentile(opened, 99))}")
            print(f"  formatting: p50 {ms(percentile(formatting, 50))}, p99 {ms(percentile(formatting, 99))}; "
                  f"reference format_prompt in-process p50 {ms(percentile(library, 50))} "
                  f"(server / library = {percentile(formatting, 50) / percentile(library, 50):.2f}x)")
            print(f"  completion at random offsets: p50 {ms(percentile(completion, 50))}, "
                  f"p99 {ms(percentile(completion, 99))}; hover: p50 {ms(percentile(hover, 50))}, "
                  f"p99 {ms(percentile(hover, 99))}")
    finally:
        client.close()


if __name__ == "__main__":
    main()
