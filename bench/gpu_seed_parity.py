"""Issue 12's GPU checks in one short script: NV noise against CUDA's, and real-size SDXL through Runner.generate.

    python bench/gpu_seed_parity.py [--steps 28] [--size 1024x1024] [--out results.json]

1. NV vs CUDA: promptkit's PhiloxGenerator (A1111's "NV" source, computed on the CPU) against
   ``torch.randn(shape, generator=torch.Generator("cuda").manual_seed(seed), device="cuda")`` for several seeds and
   latent shapes, for the first draw (the starting noise) and the second (the first ancestral step's noise).
2. One real-size random-weight SDXL (UNet 2.6B, CLIP-L, bigG, VAE; built by bench/gpu_sdxl_real_size.py, fp16)
   through ``Runner.generate`` with ``rng="gpu"`` and with ``rng="nv"``: Euler (only the starting noise is
   random) and Euler a (every step draws), timings, and the latent difference between the two sources.

Prints the figures and writes them as JSON (``--out``, default $OUT/gpu_seed_parity.json when $OUT is set).
Needs a CUDA device; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def noise_comparison() -> list[dict]:
    from promptkit.runners import PhiloxGenerator

    rows = []
    for seed in (0, 1, 42, 31337, 123456789, 4294967295):
        for shape in ((4, 128, 128), (4, 152, 104), (4, 64, 64)):
            cuda = torch.Generator("cuda").manual_seed(seed)
            nv = PhiloxGenerator(seed)
            for draw in (1, 2):
                a = torch.randn(shape, generator=cuda, device="cuda").cpu().numpy()
                b = nv.randn(shape)
                diff = float(np.abs(a - b).max())
                rows.append({"seed": seed, "shape": list(shape), "draw": draw, "max_abs_diff": diff,
                             "equal": bool(np.array_equal(a, b))})
                print(f"NV vs CUDA seed {seed:>10} shape {shape} draw {draw}: max |diff| {diff:.3g}"
                      + (" (bit-identical)" if rows[-1]["equal"] else ""))
    return rows


def sdxl_runs(steps: int, width: int, height: int) -> list[dict]:
    from gpu_sdxl_real_size import build

    from promptkit.runners import Runner

    t0 = time.perf_counter()
    pipe = build("cuda", torch.float16)
    print(f"{torch.cuda.get_device_name()}: built SDXL-size pipeline in {time.perf_counter() - t0:.1f} s")
    runner = Runner.from_pipeline(pipe, "kivotos-xl-2")
    prompt = "1girl, kazusa \\(blue archive\\), blue archive, (smile:1.2), outdoors, masterpiece, best quality"
    runner.generate(prompt, steps=2, size=(width, height), rng="gpu", output_type="latent")  # warm-up
    rows, latents = [], {}
    for sampler in ("Euler", "Euler a"):
        for rng in ("gpu", "nv"):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            gen = runner.generate(prompt, seed=1, steps=steps, size=(width, height), sampler=sampler, rng=rng,
                                  output_type="latent", ensd=31337 if sampler == "Euler a" else 0)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            latents[(sampler, rng)] = gen.latents.float().cpu()
            finite = bool(torch.isfinite(gen.latents).all())
            rows.append({"sampler": sampler, "rng": rng, "seconds": dt, "finite": finite,
                         "magnitude": float(gen.latents.abs().max())})
            print(f"SDXL {width}x{height} {sampler} rng={rng}: {steps} steps in {dt:.2f} s, latents finite: {finite}, "
                  f"magnitude {rows[-1]['magnitude']:.3g}")
        diff = float((latents[(sampler, "gpu")] - latents[(sampler, "nv")]).abs().max())
        rows.append({"sampler": sampler, "gpu_vs_nv_max_abs_diff": diff})
        print(f"SDXL {sampler}: final latents rng=gpu vs rng=nv, max |diff| {diff:.3g}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=28)
    ap.add_argument("--size", default="1024x1024")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA device")
    width, height = map(int, args.size.split("x"))
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "noise": noise_comparison(), "sdxl": sdxl_runs(args.steps, width, height)}
    out = args.out or (os.path.join(os.environ["OUT"], "gpu_seed_parity.json") if os.environ.get("OUT") else None)
    if out:
        Path(out).write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
