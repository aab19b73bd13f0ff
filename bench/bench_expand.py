"""Template parsing and expansion against dynamicprompts 0.31.0, in the same process on the same templates.

    python bench/bench_expand.py [--seconds 1]

Cases: the reference's own test-suite templates that both expand (parse only, and parse + full
combinatorial expansion against its test wildcard folder), the corpus's dynamic templates, a 10-variant
character template (expansion of the first 1,000 prompts), a wildcard-heavy template over a generated
folder of 20 files x 500 lines, and a 10,000-line template file parsed once (cost linear?). Each row
prints promptkit's and the reference's time and the ratio. Goal (issue 22): at least 10x faster.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dynamicprompts.generators import CombinatorialPromptGenerator  # noqa: E402
from dynamicprompts.parser.parse import parse as dp_parse  # noqa: E402
from dynamicprompts.wildcards import WildcardManager  # noqa: E402

from promptkit.syntax.dynamic import parse_template  # noqa: E402
from promptkit.templates import Expander, ExpansionError  # noqa: E402

DATA = ROOT / "tests" / "data" / "dynamicprompts"
CORPUS = ROOT / ".." / "shared" / "corpus" / "modern_prompts.jsonl"


def best_time(fn, seconds: float, min_passes: int = 3) -> float:
    best = float("inf")
    deadline = time.perf_counter() + seconds
    passes = 0
    while passes < min_passes or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        passes += 1
    return best


def row(name: str, ours: float, ref: float) -> None:
    print(f"{name:<48} {ours * 1e3:>10.2f} ms {ref * 1e3:>11.2f} ms {ref / ours:>8.1f}x", flush=True)


def usable(templates: list[str], folder: Path | None) -> list[str]:
    """Templates both sides expand (no random draws, no missing wildcards, no reference crash)."""
    out = []
    gen = CombinatorialPromptGenerator(WildcardManager(folder))
    for t in templates:
        if "~" in t or "@" in t:
            continue
        try:
            ours = Expander(folder).expand(t, limit=1000)
            if ours == gen.generate(t, max_prompts=1000):
                out.append(t)
        except Exception:  # noqa: BLE001 - left out of the bench, not judged here
            continue
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    s = args.seconds
    print(f"{'case':<48} {'promptkit':>13} {'dynamicprompts':>14} {'ratio':>9}")

    folder = DATA / "wildcards"
    suite = usable([r["template"] for r in json.loads((DATA / "templates.json").read_text())], folder)
    row(f"parse: reference test templates ({len(suite)})",
        best_time(lambda: [parse_template(t) for t in suite], s),
        best_time(lambda: [dp_parse(t) for t in suite], s))
    # a fresh expander / generator per pass: nothing cached between passes on either side
    row(f"expand: reference test templates ({len(suite)})",
        best_time(lambda: [Expander(folder).expand(t, limit=1000) for t in suite], s),
        best_time(lambda: [CombinatorialPromptGenerator(WildcardManager(folder)).generate(t, max_prompts=1000)
                           for t in suite], s))

    corpus = [json.loads(line)["prompt"] for line in CORPUS.read_text(encoding="utf-8").splitlines()
              if json.loads(line).get("container") == "dynamic-template"]
    corpus = usable(corpus, None)
    row(f"expand: corpus dynamic templates ({len(corpus)})",
        best_time(lambda: [Expander().expand(t, limit=1000) for t in corpus], s),
        best_time(lambda: [CombinatorialPromptGenerator().generate(t, max_prompts=1000) for t in corpus], s))

    character = ("masterpiece, 1girl, {red|blue|green|silver|black} hair, {long|short|medium} hair, "
                 "{smile|frown|blush|open mouth}, {2$$, $$earrings|necklace|hat|glasses}, "
                 "{standing|sitting|lying}, {indoors|outdoors}, {day|night}, {from above|from below|from side}, "
                 "${eyes={red|blue}} ${eyes} eyes, {0.5::solo|1girl}")
    row("expand: 10-variant template, first 1,000",
        best_time(lambda: Expander().expand(character, limit=1000), s),
        best_time(lambda: CombinatorialPromptGenerator().generate(character, max_prompts=1000), s))

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp)
        for i in range(20):
            (big / f"w{i}.txt").write_text("\n".join(f"option {i} {j}, {{a|b}}" for j in range(500)))
        template = "__w1__, __w2__, {__w3__|__w4__}, __w*__"
        row("expand: 20 wildcard files x 500 lines, first 1,000",
            best_time(lambda: Expander(big).expand(template, limit=1000), s),
            best_time(lambda: CombinatorialPromptGenerator(WildcardManager(big)).generate(template, max_prompts=1000), s))
        try:
            total = Expander(big).count(template)
            print(f"  (that template makes {total:,} prompts; count_expansions: "
                  f"{best_time(lambda: Expander(big).count(template), s) * 1e3:.1f} ms)")
        except ExpansionError as exc:
            print(f"  count: {exc}")

    lines = [f"{{a|b|c}} option {i}, __w{i % 20}__ {{2$$x|y|z}} # note {i}" for i in range(10_000)]
    for n in (2_500, 10_000):
        text = "\n".join(lines[:n])
        row(f"parse: one {n:,}-line template",
            best_time(lambda: parse_template(text), s, 1), best_time(lambda: dp_parse(text), s, 1))


if __name__ == "__main__":
    main()
