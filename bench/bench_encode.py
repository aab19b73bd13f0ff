"""Prompt encoding speed on a CLIP-L-sized random-weight text model (real architecture and tokenizer), CPU.

    python bench/bench_encode.py [--repeats 3]

16 prompts of 1-3 chunks, each with a negative prompt, encoded (a) by compel 2.5.1 (long prompts not
truncated, cond/uncond padded to the same length), (b) by promptkit's PromptEncoder in compel weighting and
in A1111 weighting, and (c) as a bare text-encoder forward over the same token batch (the physical limit).
Goals (issue 5): promptkit <= 0.5x compel's time and <= 1.1x the bare forward.
"""

from __future__ import annotations

import argparse
import random
import time

import torch
from transformers import CLIPTextConfig, CLIPTextModel

from promptkit import parse
from promptkit.encode import PromptEncoder, clip_tokenizer
from promptkit.tokens.chunks import plan_chunks

TAGS = ("long hair", "blue eyes", "smile", "looking at viewer", "school uniform", "outdoors", "cherry blossoms",
        "day", "blush", "open mouth", "short sleeves", "pleated skirt", "white shirt", "holding", "standing", "sky")


def prompts(n: int = 16, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = [10, 30, 50][i % 3]  # about 1, 2 and 3 chunks
        tags = [rng.choice(TAGS) + rng.choice(["", "", "+", "-"]) for _ in range(k)]
        out.append((", ".join(tags), "lowres, worst quality, bad anatomy, blurry-"))
    return out


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    config = CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                            vocab_size=49408, bos_token_id=49406, eos_token_id=49407, max_position_embeddings=77)
    model = CLIPTextModel(config).eval()
    tok = clip_tokenizer()
    batch = prompts()

    from compel import Compel

    compel = Compel(tokenizer=tok, text_encoder=model, truncate_long_prompts=False)

    def run_compel():
        with torch.no_grad():
            for p, n in batch:
                c, u = compel(p), compel(n)
                compel.pad_conditioning_tensors_to_same_length([c, u])

    def run_ours(weighting: str):
        def go():
            enc = PromptEncoder(tok, model, weighting=weighting, dialect="compel")  # fresh: no cache across runs
            for p, n in batch:
                enc.encode(p, n)
        return go

    def run_ours_batched():
        enc = PromptEncoder(tok, model, weighting="a1111", dialect="compel")
        enc._encode_pair([parse(p, "compel") for p, _ in batch], parse(batch[0][1], "compel"))

    ids = []
    for p, n in batch:
        plans = [plan_chunks(parse(p, "compel")), plan_chunks(parse(n, "compel"))]
        count = max(len(x.chunks) for x in plans)
        for plan in plans:
            ids += [c.ids for c in plan.chunks] + [[49406] + [49407] * 76] * (count - len(plan.chunks))
    ids_t = torch.tensor(ids)
    unique_t = torch.tensor(sorted({tuple(i) for i in ids} | {tuple([49406] + [49407] * 76)}))

    def bare():
        with torch.no_grad():
            model(ids_t, output_hidden_states=True)

    def bare_unique():
        with torch.no_grad():
            model(unique_t, output_hidden_states=True)

    run_compel()
    run_ours("compel")()  # warm-up
    t_compel = timed(run_compel, args.repeats)
    t_ours_compel = timed(run_ours("compel"), args.repeats)
    t_ours_a1111 = timed(run_ours("a1111"), args.repeats)
    t_batched = timed(run_ours_batched, args.repeats)
    t_bare = timed(bare, args.repeats)
    t_unique = timed(bare_unique, args.repeats)
    print(f"16 prompts (1-3 chunks) + negatives, {len(ids)} chunks, CLIP-L size (768 wide, 12 layers), 2 threads")
    print(f"  compel 2.5.1                         : {t_compel * 1e3:8.0f} ms")
    print(f"  promptkit, compel weighting          : {t_ours_compel * 1e3:8.0f} ms  "
          f"{t_ours_compel / t_compel:.2f}x compel (goal <= 0.5x)")
    print(f"  promptkit, a1111 weighting           : {t_ours_a1111 * 1e3:8.0f} ms  {t_ours_a1111 / t_compel:.2f}x compel, "
          f"{t_ours_a1111 / t_bare:.2f}x bare forward (goal <= 1.1x)")
    print(f"  promptkit, all prompts in one call   : {t_batched * 1e3:8.0f} ms  {t_batched / t_bare:.2f}x bare forward")
    print(f"  bare forward of the same token batch : {t_bare * 1e3:8.0f} ms")
    print(f"  bare forward of its {len(unique_t)} distinct chunks  : {t_unique * 1e3:8.0f} ms  "
          f"(promptkit one call: {t_batched / t_unique:.2f}x; per prompt: {t_ours_a1111 / t_unique:.2f}x)")


if __name__ == "__main__":
    main()
