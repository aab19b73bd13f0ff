"""Infotext in, same image out: an A1111 infotext turned into :meth:`Runner.generate` settings, or refused.

Every key of the parameter line is accounted for: applied (steps, sampler, schedule type, CFG, seeds, size,
clip skip, RNG, ENSD, variation seed, seed resize, eta, emphasis, discard penultimate sigma, ...), checked
(``Model hash`` against the checkpoint), known to be harmless (``Version``, ``Model``, style templates), or
listed as something promptkit cannot reproduce (hires fix, ADetailer, ControlNet, refiner, img2img, LoRAs not
loaded, unknown keys) before any work starts. Missing keys take A1111's defaults, not the profile's (an
infotext without ``Clip skip`` means 1, without ``RNG`` means GPU, without a negative means none).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import open_regular
from ..infotext import PNG_SIGNATURE, Infotext, parse_infotext, png_text_chunks
from ..profiles import Profile
from .samplers import SAMPLERS, SamplerError, split_sampler
from .scheduler import SamplerOptions
from .schedules import ScheduleError, ScheduleOptions, canonical_schedule_type


class ReplayError(ValueError):
    """An infotext that cannot be reproduced (everything it asks for that promptkit cannot do, in one message)."""


@dataclass
class Replay:
    """The :meth:`Runner.generate` call an infotext means, and what could not be honoured."""

    prompt: str
    negative: str
    kwargs: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


# Keys that need nothing done: informational, or already part of the prompt text.
HARMLESS = {"Version", "User", "Model", "Template", "Negative Template", "Cache FP16 weight for LoRA",
            "Pad conds", "Lora hashes"}  # Lora hashes: checked against the files by loras.check_lora_hashes
# Key prefixes for features that change the image and that promptkit does not run.
UNSUPPORTED_PREFIXES = {
    "Hires": "hires fix (a second, upscaled pass)", "ADetailer": "ADetailer (detect-and-inpaint passes)",
    "ControlNet": "ControlNet", "Refiner": "the SDXL refiner", "Dynamic thresholding": "dynamic thresholding",
    "Regional Prompter": "Regional Prompter", "Tiled Diffusion": "Tiled Diffusion", "MultiDiffusion": "MultiDiffusion",
    "FreeU": "FreeU", "SAG": "self-attention guidance", "Hypernet": "hypernetworks", "Mask": "inpainting",
    "Inpaint": "inpainting", "Masked": "inpainting", "Token merging": "token merging (ToMe)",
    "Dynamic Prompts": "Dynamic Prompts (the prompt was generated from a template)",
    "RP ": "Regional Prompter", "Latent Couple": "Latent Couple", "Tiled VAE": "Tiled VAE",
}
UNSUPPORTED_KEYS = {
    "Denoising strength": "img2img (a denoising strength without hires fix)", "Init image hash": "img2img",
    "Face restoration": "face restoration", "Tiling": "tiling", "Image CFG scale": "instruct-pix2pix models",
    "Conditional mask weight": "inpainting models", "NGMS": "negative guidance minimum sigma",
    "Skip Early CFG": "skipping early CFG", "FP8 weight": "FP8 weights (they change the numbers)",
    "Downcast alphas_cumprod": "the fp16 alphas_cumprod option", "Old prompt editing timelines":
    "A1111's pre-1.6 prompt-editing timelines",
    "Script": "a script", "X Type": "an X/Y/Z plot", "Y Type": "an X/Y/Z plot", "Z Type": "an X/Y/Z plot",
}
_SIZE = re.compile(r"^\s*(-?\d+)\s*x\s*(-?\d+)\s*$")
_VERSION = re.compile(r"v(\d+)\.(\d+)")


MAX_INFOTEXT_FILE = 4 * 1024 * 1024  # a text file larger than this is not an infotext


def read_infotext(source: str | Path) -> str:
    """The infotext of a PNG (its ``parameters`` text), of a text file, or ``source`` itself if it is the text."""
    path = Path(source) if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                                          and len(source) < 4096) else None
    if path is not None and path.exists() and not path.is_dir():
        try:
            fd = open_regular(path)  # a FIFO would block, a device never end
        except OSError as exc:
            raise ReplayError(f"{path}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(8)
        if head == PNG_SIGNATURE:
            try:
                chunks = png_text_chunks(path, keys={"parameters", "prompt"})
            except ValueError as exc:
                raise ReplayError(str(exc)) from None
            if "parameters" not in chunks:
                extra = " (it has ComfyUI metadata, which promptkit does not replay)" if "prompt" in chunks else ""
                raise ReplayError(f"{path}: no A1111 'parameters' infotext in this PNG{extra}")
            return chunks["parameters"]
        if path.stat().st_size > MAX_INFOTEXT_FILE:
            raise ReplayError(f"{path}: {path.stat().st_size} bytes is too large for an infotext")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ReplayError(f"{path}: not a UTF-8 text file or a PNG") from None
    if isinstance(source, Path):
        raise ReplayError(f"{path}: no such file")
    return str(source)


def _size(value: str, key: str) -> tuple[int, int]:
    m = _SIZE.match(value)
    if not m:
        raise ReplayError(f"{key}: {value!r} is not WIDTHxHEIGHT")
    return int(m.group(1)), int(m.group(2))


def _number(value: str, key: str, kind=float):
    try:
        return kind(float(value)) if kind is int else kind(value)
    except ValueError:
        raise ReplayError(f"{key}: {value!r} is not a number") from None


def _version(params: dict[str, str]) -> tuple[int, int] | None:
    found = _VERSION.findall(params.get("Version", ""))
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def replay_settings(infotext: str | Infotext, profile: Profile, device: Any = "cpu", model_hash: str | None = None,
                    has_checkpoint: bool = False, loaded_embeddings: set[str] | None = None, has_pag: bool = False,
                    zero_terminal_snr: bool = False, allow_unsupported: bool = False,
                    check_model_hash: bool = True) -> Replay:
    """The :meth:`Runner.generate` settings an A1111 infotext names (see the module docstring).

    Raises :class:`ReplayError` listing everything that cannot be reproduced, unless ``allow_unsupported``; then
    those items come back as warnings. ``model_hash`` is this runner's checkpoint hash, if it has one.
    """
    info = infotext if isinstance(infotext, Infotext) else parse_infotext(infotext)
    params = dict(info.params)
    if not params:
        raise ReplayError("no A1111 parameter line (Steps: ..., Sampler: ..., Seed: ...) in this infotext")
    kw: dict[str, Any] = {}
    notes: list[str] = []
    unsupported: list[str] = []
    used = set(HARMLESS)

    def take(key: str) -> str | None:
        used.add(key)
        value = params.get(key)
        return None if value is None else str(value).strip()

    version = _version(params)
    if "Steps" in params:
        kw["steps"] = _number(take("Steps"), "Steps", int)
    else:
        kw["steps"] = 20  # A1111's default
    sampler_name = take("Sampler") or "Euler a"
    schedule = take("Schedule type")
    base, suffix = split_sampler(sampler_name, None)
    if schedule is None and suffix is None and version is not None and version < (1, 9):
        spec = SAMPLERS.get(base)
        if spec is not None and spec.default_schedule is not None and spec.kind == "sigma" and base != "DPM fast":
            schedule = "Uniform"
            notes.append(f"made with A1111 v{version[0]}.{version[1]}, where '{base}' without a schedule suffix "
                         f"ran on uniform sigmas; replaying it with Schedule type Uniform (A1111 >= 1.9 would pick "
                         f"{spec.default_schedule})")
    kw["sampler"] = sampler_name
    if schedule is not None:
        try:
            kw["schedule_type"] = canonical_schedule_type(schedule)
        except ScheduleError as exc:
            unsupported.append(str(exc))
    if "CFG scale" in params:
        kw["cfg"] = _number(take("CFG scale"), "CFG scale")
    else:
        kw["cfg"] = 7.0
    kw["seed"] = _number(take("Seed"), "Seed", int) if "Seed" in params else -1
    if "Seed" not in params:
        notes.append("the infotext names no Seed: a random one is used")
    if "Size" in params:
        kw["size"] = _size(take("Size"), "Size")
    else:
        kw["size"] = (512, 512)
        notes.append("the infotext names no Size: A1111's 512x512 is used")

    # Seeds and noise
    rng = (take("RNG") or "GPU").lower()
    if rng not in ("gpu", "cpu", "nv"):
        unsupported.append(f"RNG {rng!r} (promptkit has GPU, CPU and NV)")
    import torch

    if rng == "gpu" and torch.device(device).type != "cuda":
        notes.append("RNG: GPU (CUDA's generator) replayed with the NV source, CUDA's Philox generator computed on "
                     "the CPU (it is built to give the same normals; on a GPU, GPU itself is used)")
        rng = "nv"
    kw["rng"] = rng
    if "ENSD" in params:
        kw["ensd"] = _number(take("ENSD"), "ENSD", int)
    if "Variation seed strength" in params:
        strength = _number(take("Variation seed strength"), "Variation seed strength")
        if strength:
            if "Variation seed" not in params:
                unsupported.append("a Variation seed strength without a Variation seed")
            else:
                kw["subseed"] = _number(take("Variation seed"), "Variation seed", int)
                kw["subseed_strength"] = strength
    take("Variation seed")
    if "Seed resize from" in params:
        w, h = _size(take("Seed resize from"), "Seed resize from")
        if w > 0 and h > 0:
            kw["seed_resize_from"] = (w, h)

    # Sampler settings
    spec = SAMPLERS.get(base)
    for key in ("Eta", "Eta DDIM"):
        if key in params:
            value = _number(take(key), key)
            if spec is not None and spec.eta_key == key:
                kw["eta"] = value
            else:
                notes.append(f"{key}: {value:g} does not apply to {base} (A1111 ignores it there too)")
    churn = {}
    for key, name in (("Sigma churn", "s_churn"), ("Sigma tmin", "s_tmin"), ("Sigma tmax", "s_tmax"),
                      ("Sigma noise", "s_noise")):
        if key in params:
            churn[name] = _number(take(key), key)
    if churn:
        if spec is not None and not spec.churn:
            notes.append(f"{', '.join(churn)} do not apply to {base} in A1111; ignored")
        else:
            kw["sampler_options"] = SamplerOptions(**churn)
    schedule_options = {}
    for key, name in (("Schedule min sigma", "sigma_min"), ("Schedule max sigma", "sigma_max"),
                      ("Schedule rho", "rho"), ("Beta schedule alpha", "beta_alpha"),
                      ("Beta schedule beta", "beta_beta")):
        if key in params:
            schedule_options[name] = _number(take(key), key)
    if schedule_options:
        kw["schedule_options"] = ScheduleOptions(**schedule_options)
    if "Discard penultimate sigma" in params:
        kw["discard_penultimate_sigma"] = take("Discard penultimate sigma").lower() == "true"
    if "SGM noise multiplier" in params:
        kw["sgm_noise_multiplier"] = take("SGM noise multiplier").lower() == "true"
    noise_schedule = take("Noise Schedule")
    if noise_schedule is not None and noise_schedule.lower() not in ("zero terminal snr", "default"):
        unsupported.append(f"Noise Schedule {noise_schedule!r}")
    wants_ztsnr = noise_schedule is not None and noise_schedule.lower() == "zero terminal snr"
    if profile.prediction_type != "flow" and wants_ztsnr != bool(zero_terminal_snr):
        kw["zero_terminal_snr"] = wants_ztsnr
        notes.append("the infotext's model sampled with zero terminal SNR sigmas; replaying that" if wants_ztsnr
                     else "the infotext names no 'Noise Schedule: Zero Terminal SNR', so A1111 sampled with the "
                          "model's original sigmas (sigma_max 14.6); replaying that")

    # Prompt encoding
    if "Clip skip" in params:
        kw["clip_skip"] = _number(take("Clip skip"), "Clip skip", int)
    else:
        kw["clip_skip"] = 1
    emphasis = take("Emphasis") or "Original"  # A1111 writes it only when it is not the default
    if emphasis.lower() not in ("original", "no norm"):
        unsupported.append(f"Emphasis {emphasis!r} (promptkit's encoders do Original and No norm)")
    else:
        kw["emphasis"] = emphasis
    kw["dialect"] = "a1111"

    # Model-family extras
    if "CFG Rescale phi" in params:
        phi = _number(take("CFG Rescale phi"), "CFG Rescale phi")
        if profile.architecture.startswith("sdxl"):
            kw["guidance_rescale"] = phi
        elif phi:
            unsupported.append("CFG Rescale phi on a non-SDXL model")
    elif profile.architecture.startswith("sdxl"):
        kw["guidance_rescale"] = 0.0
    if "PAG scale" in params:
        scale = _number(take("PAG scale"), "PAG scale")
        if has_pag:
            kw["pag_scale"] = scale
        elif scale:
            unsupported.append("perturbed-attention guidance (this runner's pipeline has no PAG)")
    elif has_pag:
        kw["pag_scale"] = 0.0
    if "Shift" in params:
        if profile.prediction_type == "flow":
            kw["shift"] = _number(take("Shift"), "Shift")
        else:
            unsupported.append("Shift on a model that is not flow-matching")
    for key, name, kind in (("Decoder steps", "decoder_steps", int), ("Decoder CFG scale", "decoder_cfg", float)):
        if key in params:
            if profile.architecture == "cascade":
                kw[name] = _number(take(key), key, kind)
            else:
                unsupported.append(f"{key} on a model that is not Stable Cascade")

    # The checkpoint
    hash_in_text = take("Model hash")
    if hash_in_text:
        if model_hash:
            if hash_in_text.lower() != model_hash.lower()[: len(hash_in_text)] and check_model_hash:
                raise ReplayError(f"the infotext was made with Model hash {hash_in_text} and this checkpoint's is "
                                  f"{model_hash}: load the same checkpoint (or pass check_model_hash=False / "
                                  "--ignore-model-hash)")
        else:
            notes.append(f"Model hash {hash_in_text} not checked: "
                         + ("the checkpoint file is not readable" if has_checkpoint
                            else "this runner was not loaded from a single checkpoint file"))
    for key in ("VAE", "VAE hash"):
        if key in params:
            notes.append(f"{key} {take(key)} not checked: images are decoded with the checkpoint's own VAE "
                         "(the latents do not depend on it)")
    if "TI hashes" in params:
        names = [part.split(":")[0].strip() for part in take("TI hashes").split(",") if part.strip()]
        missing = [n for n in names if n not in (loaded_embeddings or set())]
        if missing:
            unsupported.append(f"textual inversion embeddings not loaded: {', '.join(missing)} "
                               "(runner.encoder.load_embedding(path))")

    # Everything else is something promptkit does not do (grouped: one reason, the keys that ask for it)
    hires = any(key.startswith("Hires") for key in params)
    grouped: dict[str, list[str]] = {}
    for key in params:
        if key in used:
            continue
        if key == "Denoising strength" and hires:
            reason = UNSUPPORTED_PREFIXES["Hires"]
        else:
            reason = UNSUPPORTED_KEYS.get(key) or next(
                (why for prefix, why in UNSUPPORTED_PREFIXES.items() if key.startswith(prefix)), None)
        grouped.setdefault(reason or "settings promptkit does not know how to reproduce", []).append(key)
    unsupported.extend(f"{reason} ({', '.join(keys)})" for reason, keys in grouped.items())
    prompt, negative = info.prompt, info.negative_prompt or ""
    from ..syntax import parse

    try:
        loras = [n.name for n in parse(prompt, "a1111").loras]
    except Exception:  # a prompt the parser refuses is reported by generate itself
        loras = []
    if loras and "Lora hashes" not in params:
        notes.append(f"the infotext has no Lora hashes: the LoRA files found for {', '.join(loras)} are not checked")
    if version is not None and version < (1, 6) and re.search(r"\[[^\]]*:[^\]]*\]", prompt):
        unsupported.append("prompt editing written before A1111 1.6, whose step timeline differed")
    if "Pad conds" not in params:
        chunk_note = _chunk_mismatch(prompt, negative)
        if chunk_note:
            notes.append(chunk_note)
    if spec is None and base not in SAMPLERS:
        try:
            from .samplers import resolve_sampler

            resolve_sampler(sampler_name, kw.get("schedule_type"))
        except SamplerError as exc:
            unsupported.append(str(exc))
    if unsupported and not allow_unsupported:
        raise ReplayError("this infotext cannot be reproduced exactly: " + "; ".join(unsupported)
                          + " (allow_unsupported=True / --allow-unsupported runs it anyway without them)")
    return Replay(prompt, negative, kw, notes + [f"not reproduced: {item}" for item in unsupported], unsupported)


def _chunk_mismatch(prompt: str, negative: str) -> str | None:
    """A note when positive and negative have different 75-token chunk counts (A1111 ran them unpadded)."""
    from ..syntax import parse
    from ..tokens.chunks import plan_chunks

    try:
        counts = [len(plan_chunks(parse(text, "a1111")).chunks) or 1 for text in (prompt, negative)]
    except Exception:
        return None
    if counts[0] == counts[1]:
        return None
    return (f"the prompt has {counts[0]} 75-token chunks and the negative {counts[1]}: A1111 (without 'Pad conds') "
            "ran them as separate UNet batches, diffusers needs equal lengths, so the shorter one is padded with "
            "empty chunks; the image can differ slightly")
