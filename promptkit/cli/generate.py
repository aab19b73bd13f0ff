"""`promptkit generate` (local checkpoints, behind the diffusers extra) and `promptkit info` (read a PNG's metadata)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .common import fail, load_settings, open_db


def _size(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        w, h = value.lower().split("x")
        return int(w), int(h)
    except ValueError:
        fail(f"--size takes WIDTHxHEIGHT, e.g. 832x1216, not {value!r}")
        raise


@click.command()
@click.argument("prompt")
@click.option("-p", "--profile", required=True, help="Model profile (see `promptkit profiles`).")
@click.option("-c", "--checkpoint", type=click.Path(dir_okay=True, exists=True),
              help="Local .safetensors checkpoint, or a local diffusers folder.")
@click.option("--config", "config_dir", type=click.Path(file_okay=False, exists=True),
              help="Local diffusers config folder for a single-file checkpoint (nothing is downloaded).")
@click.option("--allow-pickle", is_flag=True, help="Allow pickled .ckpt files (they can run code when loaded).")
@click.option("-n", "--negative", default=None, help="Negative prompt. Default: the profile's preset.")
@click.option("--seed", default=0, show_default=True, help="Seed of the first image; the batch counts up from it.")
@click.option("--steps", type=int, help="Sampling steps. Default: the profile's.")
@click.option("--cfg", type=float, help="CFG scale. Default: the profile's.")
@click.option("--size", help="WIDTHxHEIGHT. Default: the profile's first resolution.")
@click.option("--sampler", help="A1111 sampler name (Euler a, DPM++ 2M Karras, ...). Default: the profile's.")
@click.option("--schedule-type", help="A1111 schedule type (Karras, Exponential, Beta, SGM Uniform).")
@click.option("--batch", default=1, show_default=True, help="Images to generate.")
@click.option("--device", default=None, help="torch device (cuda, cpu). Default: cuda when available.")
@click.option("--fp16", is_flag=True, help="Run the model in float16 (GPU).")
@click.option("--force", is_flag=True, help="Run settings the profile calls fried (e.g. CFG far too high).")
@click.option("-o", "--output", default="out.png", show_default=True, help="PNG to write (A1111 metadata inside).")
def generate(prompt, profile, checkpoint, config_dir, allow_pickle, negative, seed, steps, cfg, size, sampler,
             schedule_type, batch, device, fp16, force, output) -> None:
    """Generate images from a local checkpoint with the profile's settings; PNGs carry A1111 metadata."""
    try:
        import torch

        from ..runners import GenerationError, Runner
    except ImportError as exc:  # pragma: no cover - the extra is missing
        fail(f"generating needs the diffusers extra: pip install 'promptkit[diffusers]' ({exc})")
    if not checkpoint:
        fail("give a checkpoint: --checkpoint model.safetensors (or a local diffusers folder)")
    dtype = torch.float16 if fp16 else None
    try:
        path = Path(checkpoint)
        runner = (Runner.from_pretrained(path, profile) if path.is_dir() else
                  Runner.from_single_file(path, profile, config=config_dir, allow_pickle=allow_pickle,
                                          torch_dtype=dtype))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        runner.pipeline.to(device)
        runner.pipeline.set_progress_bar_config(disable=False)
        gen = runner.generate(prompt, negative, seed=seed, steps=steps, cfg=cfg, size=_size(size), sampler=sampler,
                              schedule_type=schedule_type, batch=batch, force=force)
    except (GenerationError, ValueError, OSError) as exc:
        fail(str(exc))
    for saved in gen.save(output):
        click.echo(f"wrote {saved}")


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@click.option("-p", "--profile", help="Profile to lint against. Default: the Model named in the metadata, if known.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: prompts, parameters and findings.")
def info(image, profile, as_json) -> None:
    """Show a generated image's prompt and settings (A1111 or ComfyUI metadata), and lint its prompts."""
    from ..infotext import parse_infotext, png_text_chunks, read_png_prompts
    from ..linter import lint_prompt
    from ..profiles import bundled_ids

    try:
        chunks = png_text_chunks(image)
        prompts = read_png_prompts(image)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    params = parse_infotext(chunks["parameters"]).params if "parameters" in chunks else {}
    if not prompts:
        fail(f"{image}: no A1111 or ComfyUI prompt metadata")
    profile = profile or (params.get("Model") if params.get("Model") in bundled_ids() else None) or "sdxl-base"
    prof, dialect, _, _, cfg = load_settings(profile, None, (), ())
    db = open_db(cfg)
    reports = [(label, text, lint_prompt(text, prof, dialect, db, negative=neg)) for label, text, neg in prompts]
    if as_json:
        click.echo(json.dumps({"parameters": params, "prompts": [
            {"label": label, "text": text, **report.to_dict()} for label, text, report in reports]},
            ensure_ascii=False, indent=2))
        return
    for label, text, report in reports:
        click.echo(f"{label}: {text}")
    for key, value in params.items():
        click.echo(f"  {key}: {value}")
    from . import output
    from .inputs import PromptInput

    pairs = [(PromptInput(f"{image}[{label}]", text), report) for label, text, report in reports]
    text = output.text_report(pairs, sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    if text:
        click.echo(text)
    click.echo(output.summary(pairs))
