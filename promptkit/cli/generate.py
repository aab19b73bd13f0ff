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
        fail(f"sizes take WIDTHxHEIGHT, e.g. 832x1216, not {value!r}")
        raise


_INFOTEXT_SETS = ("negative", "seed", "steps", "cfg", "size", "sampler", "schedule_type", "rng", "subseed",
                  "subseed_strength", "seed_resize_from", "ensd", "eta")


@click.command()
@click.argument("prompt", required=False)
@click.option("-p", "--profile", help="Model profile (see `promptkit profiles`). Default: the config's `profile`, "
              "else the base profile of the family the checkpoint is.")
@click.option("-c", "--checkpoint", type=click.Path(dir_okay=True, exists=True),
              help="Local .safetensors checkpoint (SD1, SD2, SDXL, Stable Cascade stage C), or a diffusers folder.")
@click.option("--decoder", type=click.Path(dir_okay=False, exists=True),
              help="Stable Cascade stage B checkpoint to go with a stage C --checkpoint.")
@click.option("--lora-dir", "lora_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
              help="Folder searched (recursively) for <lora:name:weight> files; repeatable. Also the config's "
              "`lora-dirs` and A1111's models/Lora next to models/Stable-diffusion.")
@click.option("--config", "config_dir", type=click.Path(file_okay=False, exists=True),
              help="Load with diffusers' own single-file loader and this local diffusers config folder.")
@click.option("--allow-pickle", is_flag=True, help="Allow pickled .ckpt files (they can run code when loaded).")
@click.option("--infotext", type=click.Path(exists=True, dir_okay=False),
              help="Reproduce an A1111 infotext: a PNG with 'parameters' metadata or a text file. Replaces PROMPT "
                   "and the sampling options; what cannot be reproduced is an error (see --allow-unsupported).")
@click.option("--allow-unsupported", is_flag=True,
              help="With --infotext: run even if it asks for things promptkit cannot do (listed as warnings).")
@click.option("--ignore-model-hash", is_flag=True, help="With --infotext: run even if its Model hash differs.")
@click.option("-n", "--negative", default=None, help="Negative prompt. Default: the profile's preset.")
@click.option("--seed", type=int, default=None, help="Seed of the first image (default 0; -1 = random); the batch "
                                                     "counts up from it.")
@click.option("--steps", type=int, help="Sampling steps. Default: the profile's.")
@click.option("--cfg", type=float, help="CFG scale. Default: the profile's.")
@click.option("--size", help="WIDTHxHEIGHT. Default: the profile's first resolution.")
@click.option("--sampler", help="A1111 sampler name (Euler a, DPM++ 2M, DPM++ 2M Karras, ...). Default: the profile's.")
@click.option("--schedule-type", help="A1111 schedule type (Automatic, Karras, Exponential, SGM Uniform, Beta, ...).")
@click.option("--rng", type=click.Choice(["gpu", "cpu", "nv"], case_sensitive=False),
              help="A1111's RNG source. Default: gpu on CUDA, cpu elsewhere; nv gives CUDA's noise on any device.")
@click.option("--subseed", type=int, help="Variation seed.")
@click.option("--subseed-strength", type=float, help="Variation strength (0-1).")
@click.option("--seed-resize-from", help="WIDTHxHEIGHT the seed was first used at (A1111's seed resize).")
@click.option("--ensd", type=int, help="A1111's eta noise seed delta (often 31337).")
@click.option("--eta", type=float, help="Sampler eta (ancestral and SDE samplers; DDIM's eta for DDIM).")
@click.option("--batch", default=1, show_default=True, help="Images to generate.")
@click.option("--device", default=None, help="torch device (cuda, cpu). Default: cuda when available.")
@click.option("--fp16", is_flag=True, help="Run the model in float16 (GPU).")
@click.option("--force", is_flag=True, help="Run settings the profile calls fried (e.g. CFG far too high).")
@click.option("-o", "--output", default="out.png", show_default=True, help="PNG to write (A1111 metadata inside).")
@click.option("-w", "--wildcards", type=click.Path(file_okay=False, exists=True),
              help="Wildcard folder for a dynamic-prompts template (__name__).")
@click.option("--combinatorial", is_flag=True,
              help="A template's prompts in combinatorial order across the batch (default: each image draws its "
                   "own expansion, random by its seed).")
def generate(prompt, profile, checkpoint, decoder, lora_dirs, config_dir, allow_pickle, infotext, allow_unsupported, ignore_model_hash,
             negative, seed, steps, cfg, size, sampler, schedule_type, rng, subseed, subseed_strength,
             seed_resize_from, ensd, eta, batch, device, fp16, force, output, wildcards, combinatorial) -> None:
    """Generate images from a local checkpoint as A1111 would; PNGs carry A1111 metadata.

    With --infotext, reproduce an A1111 image from its infotext (prompt, sampler, seeds, RNG, ENSD ...).

    PROMPT (and --negative) may be a dynamic-prompts template (`{red|blue} eyes`, `__hair__`): each image gets its
    own expansion, and its infotext records `Template:` / `Negative Template:` as sd-dynamic-prompts does (the
    Prompt line holds the expansion, so replaying the image replays it).
    """
    given = {k: v for k, v in locals().items() if k in _INFOTEXT_SETS and v is not None}
    if infotext and (prompt or given):
        fail("--infotext sets the prompt and sampling settings itself; drop "
             + ", ".join(["PROMPT"] * bool(prompt) + [f"--{k.replace('_', '-')}" for k in given]))
    if not infotext and not prompt:
        fail("give a PROMPT, or --infotext IMAGE.png to reproduce an A1111 image")
    if not checkpoint:
        fail("give a checkpoint: --checkpoint model.safetensors (or a local diffusers folder)")
    per_image = None
    if prompt and not infotext:
        per_image = _template_prompts(prompt, negative, wildcards, combinatorial, seed, batch)
    _quiet_libraries()
    try:
        import torch

        from ..runners import GenerationError, GenerationWarning, ReplayError, Runner, read_infotext
    except ImportError as exc:  # pragma: no cover - the extra is missing
        fail(f"generating needs the diffusers extra: pip install 'promptkit[diffusers]' ({exc})")
    import warnings

    dtype = torch.float16 if fp16 else None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    profile, folders = _model_settings(profile, lora_dirs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            path = Path(checkpoint)
            if path.is_dir():
                if not profile:
                    fail("a diffusers folder needs --profile (the family is read from single-file checkpoints only)")
                runner = Runner.from_pretrained(path, profile)
                runner.lora_dirs = folders
            else:
                runner = Runner.from_single_file(path, profile, config=config_dir, allow_pickle=allow_pickle,
                                                 torch_dtype=dtype, decoder=decoder, lora_dirs=folders,
                                                 device=None if config_dir else device)
            runner.pipeline.to(device)
            runner.pipeline.set_progress_bar_config(disable=False)
            if infotext:
                text = read_infotext(Path(infotext))
                gen = runner.generate_from_infotext(text, allow_unsupported=allow_unsupported,
                                                    check_model_hash=not ignore_model_hash, batch=batch)
            else:
                resize = _size(seed_resize_from) if seed_resize_from else None
                settings = dict(steps=steps, cfg=cfg, size=_size(size), sampler=sampler, schedule_type=schedule_type,
                                force=force, rng=rng, subseed=subseed, subseed_strength=subseed_strength or 0.0,
                                seed_resize_from=resize, ensd=ensd or 0, eta=eta)
                if per_image is None:
                    gen = runner.generate(prompt, negative, seed=0 if seed is None else seed, batch=batch, **settings)
                else:
                    gen = _generate_templates(runner, per_image, prompt, negative, **settings)
        except (GenerationError, ReplayError, ValueError, OSError) as exc:
            fail(str(exc))
    for w in caught:  # promptkit's own notes only; third-party notices stay quiet
        if issubclass(w.category, GenerationWarning):
            click.echo(f"promptkit: warning: {w.message}", err=True)
    for saved in gen.save(output):
        click.echo(f"wrote {saved}")


def _template_prompts(prompt: str, negative: str | None, wildcards: str | None, combinatorial: bool,
                      seed: int | None, batch: int) -> list[tuple[int, str, str | None]] | None:
    """(seed, prompt, negative) per image when PROMPT or --negative is a template, else None. Image i has seed
    ``seed + i`` (A1111's batch) and, in random mode, the expansion drawn with that seed."""
    from ..syntax.dynamic import reads_as_template
    from ..templates import ExpansionError, Expander

    is_template = [wildcards is not None or reads_as_template(prompt),
                   negative is not None and reads_as_template(negative)]
    if not any(is_template):
        return None
    if seed is None:
        seed = 0
    if seed == -1:
        import random

        seed = random.randrange(2 ** 32)
    out = []
    try:
        if combinatorial:
            prompts = Expander(wildcards).expand(prompt, limit=batch) if is_template[0] else [prompt]
            negatives = Expander(wildcards).expand(negative, limit=batch) if is_template[1] else [negative]
            for i in range(batch):
                out.append((seed + i, prompts[i % len(prompts)] if prompts else "",
                            negatives[i % len(negatives)] if negatives else ""))
        else:
            for i in range(batch):
                p = Expander(wildcards, seed=seed + i).expand(prompt, mode="random")[0] if is_template[0] else prompt
                n = Expander(wildcards, seed=seed + i).expand(negative, mode="random")[0] if is_template[1] \
                    else negative
                out.append((seed + i, p, n))
    except ExpansionError as exc:
        fail(" ".join(str(exc).split("\n", 1)[0].split()))
    return out


def _generate_templates(runner, per_image, template: str, negative_template: str | None, **settings):
    """One run per image (each has its own prompt), gathered into one Generation with the Template params."""
    from ..runners.loras import add_params
    from ..syntax.dynamic import reads_as_template

    extra = {"Template": template}
    if negative_template is not None and reads_as_template(negative_template):
        extra["Negative Template"] = negative_template
    gen = None
    for image_seed, prompt, negative in per_image:
        one = runner.generate(prompt, negative, seed=image_seed, batch=1, **settings)
        add_params(one, extra)
        if gen is None:
            gen = one
        else:
            gen.images.extend(one.images)
            gen.infotexts.extend(one.infotexts)
    return gen


def _model_settings(profile: str | None, lora_dirs: tuple[str, ...]) -> tuple[str | None, list[Path]]:
    """The profile and LoRA folders from the options, falling back to promptkit.toml / [tool.promptkit]."""
    from .config import ConfigError, find_config

    try:
        _, cfg = find_config()
    except ConfigError as exc:
        fail(str(exc))
    folders = [Path(d) for d in lora_dirs] + [Path(d) for d in cfg.get("lora-dirs", [])]
    return profile or cfg.get("profile"), folders


def _quiet_libraries() -> None:
    """No third-party notices on a normal run: transformers/diffusers log only errors, no loading bars."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import diffusers.utils.logging as dlog
        import transformers.utils.logging as tlog
    except ImportError:  # pragma: no cover - the extra is missing; generate reports it
        return
    dlog.set_verbosity_error()
    dlog.disable_progress_bar()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@click.option("-p", "--profile", help="Profile to lint against. Default: the profile of the checkpoint the metadata "
              "names (file name or Model hash), else as `lint` chooses; the choice is printed.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: prompts, parameters and findings.")
def info(image, profile, as_json) -> None:
    """Show a generated image's prompt and settings (A1111 or ComfyUI metadata), and lint its prompts."""
    from ..infotext import PROMPT_CHUNKS, model_in_chunks, parse_infotext, png_text_chunks, prompts_in_chunks
    from ..linter import lint_prompt

    try:  # one pass over the file, reading only the chunks shown (each bounded: promptkit.infotext)
        chunks = png_text_chunks(image, keys=PROMPT_CHUNKS)
        prompts = prompts_in_chunks(image, chunks)
    except OSError as exc:
        fail(f"{image}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(str(exc))
    params = parse_infotext(chunks["parameters"]).params if "parameters" in chunks else {}
    if not prompts:
        fail(f"{image}: no A1111 or ComfyUI prompt metadata")
    settings = load_settings(profile, None, (), ())
    positive = next((text for _, text, neg in prompts if not neg), "")
    prof, reason = settings.choose(positive, *model_in_chunks(chunks))
    dialect, cfg = settings.dialect, settings.config
    db = open_db(cfg, prof)
    reports = [(label, text, lint_prompt(text, prof, dialect, db, negative=neg)) for label, text, neg in prompts]
    if as_json:
        from ..contain import detect_container

        click.echo(json.dumps({"parameters": params, "profile": prof.id, "profile_reason": reason, "prompts": [
            {"label": label, "text": text, "container": detect_container(text), **report.to_dict()}
            for label, text, report in reports]},
            ensure_ascii=False, indent=2))
        return
    for label, text, report in reports:
        click.echo(f"{label}: {text}")
    for key, value in params.items():
        click.echo(f"  {key}: {value}")
    click.echo(f"linted with profile {prof.id} ({reason})")
    from . import output
    from .inputs import PromptInput

    pairs = [(PromptInput(f"{image}[{label}]", text), report) for label, text, report in reports]
    text = output.text_report(pairs, sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    if text:
        click.echo(text)
    click.echo(output.summary(pairs))
