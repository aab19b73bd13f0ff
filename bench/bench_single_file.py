"""Single-file checkpoint and LoRA loading at real size: promptkit against diffusers' own ``from_single_file``.

    python bench/bench_single_file.py [--family sdxl|sd15] [--device cuda|cpu] [--lora-rank 32] [--workdir DIR]

Writes a random-weight float16 checkpoint of the real SD 1.5 or SDXL-base size in the original single-file
(LDM/SGM) layout (streamed to disk, never all in memory), a local diffusers config folder for diffusers'
loader (it cannot load offline without one), and a kohya-format LoRA of that rank on every attention and
feed-forward projection of the UNet and the text encoders. Then, each in a fresh subprocess:

- promptkit ``Runner.from_single_file(path, torch_dtype=float16)`` (no config);
- diffusers ``Pipeline.from_single_file(path, config=DIR, local_files_only=True, torch_dtype=float16)``,
  then moved to ``--device`` (promptkit loads straight onto it);

it prints wall time to a ready pipeline, peak host RSS right after loading and after every weight has been read
once (diffusers with accelerate memory-maps the file, so its pages count only when touched), (CUDA) peak
device memory, and the ratios. Then the LoRA: promptkit's read + merge (and the bit-exact restore) against
diffusers' ``load_lora_weights`` + ``fuse_lora``. Run it with accelerate and peft importable, so diffusers
takes its fast paths (without peft its LoRA side is skipped with a note).
The issue's check (issue 15) is the SDXL run on a GPU; on this 2-core CPU machine sd15 fits.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def meta_components(family: str):
    """Real-size components on the meta device (shapes only, no memory)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    common = dict(vocab_size=49408, bos_token_id=49406, eos_token_id=49407, pad_token_id=1,
                  max_position_embeddings=77, layer_norm_eps=1e-5)
    with torch.device("meta"):
        clip_l = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                              num_hidden_layers=12, hidden_act="quick_gelu", projection_dim=768,
                                              **common))
        if family == "sd15":
            unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8,
                                        block_out_channels=(320, 640, 1280, 1280), layers_per_block=2)
            vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                                down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                                sample_size=512, scaling_factor=0.18215)
            return {"unet": unet, "vae": vae, "text_encoder": clip_l}
        big_g = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=1280, intermediate_size=5120,
                                                           num_attention_heads=20, num_hidden_layers=32,
                                                           hidden_act="gelu", projection_dim=1280, **common))
        unet = UNet2DConditionModel(
            sample_size=128, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(320, 640, 1280), layers_per_block=2, transformer_layers_per_block=(1, 2, 10),
            attention_head_dim=(5, 10, 20), cross_attention_dim=2048, use_linear_projection=True,
            addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                            down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                            sample_size=1024, scaling_factor=0.13025)
    return {"unet": unet, "vae": vae, "text_encoder": clip_l, "text_encoder_2": big_g}


def stream_safetensors(path: Path, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> int:
    """Write random float16 tensors of these shapes without holding them all in memory."""
    import torch

    header, offset = {}, 0
    for key, shape in shapes.items():
        size = math.prod(shape) * 2
        header[key] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    gen = torch.Generator().manual_seed(seed)
    with path.open("wb") as fh:
        fh.write(len(raw).to_bytes(8, "little") + raw)
        for key, shape in shapes.items():
            count = math.prod(shape)
            for start in range(0, count, 1 << 26):
                n = min(1 << 26, count - start)
                fh.write((torch.randn(n, generator=gen) * 0.02).to(torch.float16).numpy().tobytes())
    return offset


def write_files(family: str, work: Path, rank: int) -> tuple[Path, Path, Path]:
    import types

    import ldm_checkpoints as lc
    import torch

    from promptkit.encode import clip_tokenizer
    from promptkit.runners.ldm_layout import unet_block_map_for

    parts = meta_components(family)
    pipe = types.SimpleNamespace(**parts)
    ldm = lc.ldm_state_dict(pipe, "sd1" if family == "sd15" else "sdxl")
    shapes = {k: tuple(v.shape) for k, v in ldm.items()
              if not k.endswith("position_ids") and not k.startswith("model_ema")}
    ckpt = work / f"{family}-random.safetensors"
    if not ckpt.exists():
        t0 = time.perf_counter()
        size = stream_safetensors(ckpt, shapes)
        print(f"wrote {ckpt.name}: {size / 2**30:.2f} GiB of float16 tensors in {time.perf_counter() - t0:.0f} s")
    config = work / f"{family}-diffusers-config"
    if not config.exists():
        for name, model in parts.items():
            (config / name).mkdir(parents=True, exist_ok=True)
            if name.startswith("text_encoder"):
                model.config.save_pretrained(config / name)
            else:
                model.save_config(config / name)
        clip_tokenizer().save_pretrained(config / "tokenizer")
        from diffusers import EulerDiscreteScheduler

        EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                               timestep_spacing="leading").save_config(config / "scheduler")
        index = {"_class_name": "StableDiffusionPipeline" if family == "sd15" else "StableDiffusionXLPipeline",
                 "_diffusers_version": "0.42.1", "unet": ["diffusers", "UNet2DConditionModel"],
                 "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "EulerDiscreteScheduler"],
                 "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"]}
        if family == "sd15":
            index.update(safety_checker=[None, None], feature_extractor=[None, None], requires_safety_checker=False)
        else:
            clip_tokenizer("!").save_pretrained(config / "tokenizer_2")
            index.update(text_encoder_2=["transformers", "CLIPTextModelWithProjection"],
                         tokenizer_2=["transformers", "CLIPTokenizer"], force_zeros_for_empty_prompt=True)
        (config / "model_index.json").write_text(json.dumps(index, indent=2))
    lora = work / f"{family}-rank{rank}-lora.safetensors"
    if not lora.exists():
        table = unet_block_map_for(parts["unet"].config)
        lora_shapes = {}
        projections = ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2", "proj_in", "proj_out")
        for name, module in parts["unet"].named_modules():
            if name.endswith(projections) and isinstance(module, torch.nn.Linear | torch.nn.Conv2d):
                key = "lora_unet_" + (table.to_ldm(name) if family == "sdxl" else name).replace(".", "_")
                _lora_shapes(lora_shapes, key, module, rank)
        towers = [("text_encoder", "lora_te1_" if family == "sdxl" else "lora_te_")]
        if family == "sdxl":
            towers.append(("text_encoder_2", "lora_te2_"))
        for attr, prefix in towers:
            model = parts[attr]
            inner = getattr(model, "text_model", model)
            for name, module in inner.named_modules():
                if name.endswith(("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")):
                    _lora_shapes(lora_shapes, prefix + "text_model_" + name.replace(".", "_"), module, rank)
        stream_safetensors(lora, lora_shapes, seed=1)
        print(f"wrote {lora.name}: {lora.stat().st_size / 2**20:.0f} MiB, {len(lora_shapes) // 2} layers")
    return ckpt, config, lora


def _lora_shapes(out: dict, key: str, module, rank: int) -> None:
    weight = module.weight
    if weight.ndim == 4:
        out[f"{key}.lora_down.weight"] = (rank, weight.shape[1], *weight.shape[2:])
        out[f"{key}.lora_up.weight"] = (weight.shape[0], rank, 1, 1)
    else:
        out[f"{key}.lora_down.weight"] = (rank, weight.shape[1])
        out[f"{key}.lora_up.weight"] = (weight.shape[0], rank)


CHILD = r"""
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path[:0] = [{root!r}, {tests!r}]
import torch
which, family, path, config, lora, device = sys.argv[1:7]
dtype = torch.float16
out = {{}}
t0 = time.perf_counter()
if which == "promptkit":
    from promptkit.runners import Runner
    runner = Runner.from_single_file(path, torch_dtype=dtype, device=device)
    pipe = runner.pipeline
else:
    import diffusers
    cls = diffusers.StableDiffusionPipeline if family == "sd15" else diffusers.StableDiffusionXLPipeline
    pipe = cls.from_single_file(path, config=config, local_files_only=True, torch_dtype=dtype)
out["load_s"] = time.perf_counter() - t0
if device == "cuda":
    pipe.to("cuda"); torch.cuda.synchronize()
out["ready_s"] = time.perf_counter() - t0
out["rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
if device == "cuda":
    out["device_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
with torch.no_grad():  # read every weight once: memory-mapped loaders count their pages only now
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        model = getattr(pipe, name, None)
        for param in (model.parameters() if model is not None else ()):
            param.max()
out["rss_used_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
if lora != "-":
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if which == "promptkit":
        from pathlib import Path
        from promptkit.runners.loras import AppliedLoras, ModuleIndex, read_lora, requested_networks
        (request,) = requested_networks("<lora:x:0.8>")
        net = read_lora(Path(lora), request, ModuleIndex(pipe))
        applied = AppliedLoras([net], runner.encoder)
        applied.__enter__()
        if device == "cuda": torch.cuda.synchronize()
        out["lora_apply_s"] = time.perf_counter() - t0
        t1 = time.perf_counter(); applied.__exit__(None, None, None)
        if device == "cuda": torch.cuda.synchronize()
        out["lora_restore_s"] = time.perf_counter() - t1
    else:
        try:
            pipe.load_lora_weights(lora); pipe.fuse_lora(lora_scale=0.8)
            if device == "cuda": torch.cuda.synchronize()
            out["lora_apply_s"] = time.perf_counter() - t0
            t1 = time.perf_counter(); pipe.unfuse_lora(); pipe.unload_lora_weights()
            out["lora_restore_s"] = time.perf_counter() - t1
        except Exception as exc:
            out["lora_error"] = f"{{type(exc).__name__}}: {{str(exc).splitlines()[0] if str(exc) else ''}}"
    out["lora_rss_growth_gib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**20
    if device == "cuda":
        out["lora_device_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
print("RESULT " + json.dumps(out))
"""


def measure(which: str, family: str, ckpt: Path, config: Path, lora: Path | None, device: str) -> dict:
    code = CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"))
    args = [sys.executable, "-c", code, which, family, str(ckpt), str(config), str(lora or "-"), device]
    done = subprocess.run(args, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    why = f"killed by signal {-done.returncode} (out of memory?)" if done.returncode < 0 else \
        f"exit {done.returncode}"
    raise SystemExit(f"{which} failed ({why}):\n{done.stderr[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", choices=("sdxl", "sd15"), default="sdxl")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--lora-rank", type=int, default=32)
    ap.add_argument("--workdir", default=None, help="where the files go (default: a temporary folder)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per loader; the best is reported")
    args = ap.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pk-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ckpt, config, lora = write_files(args.family, work, args.lora_rank)
    print(f"{args.family} checkpoint {ckpt.stat().st_size / 2**30:.2f} GiB, LoRA rank {args.lora_rank} "
          f"{lora.stat().st_size / 2**20:.0f} MiB, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else ""))
    results = {}
    for which in ("promptkit", "diffusers"):
        runs = [measure(which, args.family, ckpt, config, lora if i == 0 else None, device)
                for i in range(args.repeat)]
        best = min(runs, key=lambda r: r["ready_s"])
        best.update({k: v for k, v in runs[0].items() if k.startswith("lora")})
        results[which] = best
        print(f"{which:>9}: ready in {best['ready_s']:.1f} s (load {best['load_s']:.1f} s), peak RSS "
              f"{best['rss_gib']:.2f} GiB ({best['rss_used_gib']:.2f} GiB once every weight is read)"
              + (f", device peak {best['device_peak_gib']:.2f} GiB"
                                              if "device_peak_gib" in best else "")
              + (f"; LoRA merge {best['lora_apply_s']:.2f} s, restore {best['lora_restore_s']:.2f} s"
                 if "lora_apply_s" in best else f"; LoRA: {best.get('lora_error', 'not run')}"))
    ours, theirs = results["promptkit"], results["diffusers"]
    print(f"ratio promptkit/diffusers: time {ours['ready_s'] / theirs['ready_s']:.2f}x, "
          f"peak RSS {ours['rss_gib'] / theirs['rss_gib']:.2f}x (after reading every weight "
          f"{ours['rss_used_gib'] / theirs['rss_used_gib']:.2f}x)"
          + (f", device peak {ours['device_peak_gib'] / theirs['device_peak_gib']:.2f}x"
             if "device_peak_gib" in ours else ""))
    if "lora_apply_s" in ours and "lora_apply_s" in theirs:
        print(f"LoRA merge ratio promptkit/diffusers: {ours['lora_apply_s'] / theirs['lora_apply_s']:.2f}x")


if __name__ == "__main__":
    main()
