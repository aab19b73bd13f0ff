"""``Runner``: a profile + a diffusers pipeline + the prompt encoder + A1111 metadata.

Runners are thin and explicit per family (the diffusers way): the profile says which scheduler settings,
clip skip, guidance and sizes the model wants; arguments override them; nonsense is refused before any
work starts. Prompt editing and alternation run through the encoder's step callback.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..infotext import Infotext
from ..profiles import Profile, load_profile
from ..syntax import parse
from ..syntax.ast import Alternation, And, Schedule
from .samplers import SamplerError, make_scheduler, split_sampler


class GenerationError(ValueError):
    """Settings that cannot work for this model, found before generating."""


@dataclass
class Generation:
    """What a run made: PIL ``images``, the ``params`` used, and the A1111 ``infotext`` of each image."""

    images: list
    params: dict[str, Any]
    infotexts: list[str] = field(default_factory=list)

    @property
    def infotext(self) -> str:
        return self.infotexts[0] if self.infotexts else ""

    def save(self, path: str | Path) -> list[Path]:
        """Save as PNG with the A1111 ``parameters`` text chunk (``name.png``, ``name-1.png``, ...)."""
        from PIL.PngImagePlugin import PngInfo

        path = Path(path)
        saved = []
        for i, (image, text) in enumerate(zip(self.images, self.infotexts)):
            target = path if i == 0 else path.with_name(f"{path.stem}-{i}{path.suffix}")
            info = PngInfo()
            info.add_itxt("parameters", text)
            image.save(target, pnginfo=info)
            saved.append(target)
        return saved


def detect_vpred(path: str | Path) -> dict[str, bool]:
    """NoobAI/Illustrious v-pred checkpoints carry ``v_pred`` (and ``ztsnr``) marker keys, as ComfyUI reads them."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        keys = set(fh.keys())
    return {"v_pred": "v_pred" in keys, "ztsnr": "ztsnr" in keys}


_PIPELINES = {"sd1": "StableDiffusionPipeline", "sd2": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline",
              "sdxl-vpred": "StableDiffusionXLPipeline", "sdxl-flow": "StableDiffusionXLPipeline",
              "cascade": "StableCascadeCombinedPipeline"}


class Runner:
    """Generate images for one model family. Build with :meth:`from_pipeline` or :meth:`from_single_file`."""

    def __init__(self, pipeline: Any, profile: Profile, weighting: str = "a1111", model_name: str | None = None,
                 zero_terminal_snr: bool | None = None) -> None:
        from ..encode import PromptEncoder

        self.pipeline = pipeline
        self.profile = profile
        self.model_name = model_name or profile.id
        self.zero_terminal_snr = profile.zero_terminal_snr if zero_terminal_snr is None else zero_terminal_snr
        self.encoder = PromptEncoder.from_pipeline(pipeline, weighting=weighting, clip_skip=profile.clip_skip,
                                                   dialect=profile.dialect)
        self._base_scheduler_config = dict(self._scheduler_owner().scheduler.config)
        if hasattr(pipeline, "set_progress_bar_config"):
            pipeline.set_progress_bar_config(disable=True)

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_pipeline(cls, pipe: Any, profile: str | Profile, **kwargs: Any) -> "Runner":
        return cls(pipe, load_profile(profile) if isinstance(profile, str) else profile, **kwargs)

    @classmethod
    def from_single_file(cls, path: str | Path, profile: str | Profile, config: str | Path | None = None,
                         allow_pickle: bool = False, torch_dtype: Any = None, **kwargs: Any) -> "Runner":
        """Load a local checkpoint. ``config`` is a local diffusers folder (model_index.json, */config.json,
        tokenizer*/) so nothing is fetched; pickled ``.ckpt`` files need ``allow_pickle=True`` (they can run code).
        """
        import diffusers

        path = Path(path)
        prof = load_profile(profile) if isinstance(profile, str) else profile
        if path.suffix != ".safetensors" and not allow_pickle:
            raise GenerationError(f"{path.name} is not a .safetensors file; pickled checkpoints can run arbitrary "
                                  "code when loaded: pass allow_pickle=True (CLI: --allow-pickle) if you trust it")
        if not path.exists():
            raise GenerationError(f"{path}: no such checkpoint")
        markers = detect_vpred(path) if path.suffix == ".safetensors" else {"v_pred": False, "ztsnr": False}
        if markers["v_pred"] and prof.prediction_type != "v_prediction":
            raise GenerationError(f"{path.name} is a v-prediction checkpoint (it has a 'v_pred' key) but profile "
                                  f"{prof.id} is {prof.prediction_type}: use a v-pred profile such as "
                                  "noobai-xl-vpred or spacediffusion-xl-vpred")
        pipeline_cls = getattr(diffusers, _PIPELINES[prof.architecture])
        options: dict[str, Any] = {"local_files_only": True}
        if config is not None:
            options["config"] = str(config)
        if torch_dtype is not None:
            options["torch_dtype"] = torch_dtype
        pipe = pipeline_cls.from_single_file(str(path), **options)
        zsnr = markers["ztsnr"] or None
        return cls(pipe, prof, model_name=path.stem, zero_terminal_snr=zsnr, **kwargs)

    @classmethod
    def from_pretrained(cls, folder: str | Path, profile: str | Profile, **kwargs: Any) -> "Runner":
        """Load a local diffusers folder (never the hub)."""
        import diffusers

        prof = load_profile(profile) if isinstance(profile, str) else profile
        pipe = getattr(diffusers, _PIPELINES[prof.architecture]).from_pretrained(str(folder), local_files_only=True)
        return cls(pipe, prof, model_name=Path(folder).name, **kwargs)

    # -- settings -----------------------------------------------------------------------------------------
    def _scheduler_owner(self) -> Any:
        return getattr(self.pipeline, "prior_pipe", self.pipeline)

    def settings(self, steps: int | None = None, cfg: float | None = None, size: tuple[int, int] | None = None,
                 sampler: str | None = None, schedule_type: str | None = None, force: bool = False,
                 **extra: Any) -> dict[str, Any]:
        """The settings a run will use (profile defaults, overridden by arguments), validated."""
        p = self.profile
        steps = int(steps if steps is not None else p.steps.default)
        cfg = float(cfg if cfg is not None else p.cfg.default)
        width, height = size if size is not None else (p.resolutions[0] if p.resolutions else (1024, 1024))
        sampler = sampler or p.samplers[0]
        schedule_type = schedule_type or (None if split_sampler(sampler)[1] else p.schedule_type)
        problems = []
        if steps < 1:
            problems.append(f"steps must be at least 1, not {steps}")
        multiple = p.resolution_multiple
        if width % multiple or height % multiple:
            problems.append(f"{p.title} needs width and height that are multiples of {multiple}; got {width}x{height}"
                            + (" (Stable Cascade's latents only round-trip at multiples of 128)" if multiple == 128 else ""))
        fried = p.cfg_fried or 2 * p.cfg.max
        if cfg >= fried and not force:
            what = "v-prediction " if p.prediction_type == "v_prediction" else ""
            problems.append(f"CFG {cfg:g} on this {what}model gives fried images (the profile's range is "
                            f"{p.cfg.min:g}-{p.cfg.max:g}); pass force=True to run it anyway")
        elif not p.cfg.min <= cfg <= p.cfg.max:
            warnings.warn(f"CFG {cfg:g} is outside {p.title}'s recommended {p.cfg.min:g}-{p.cfg.max:g}", stacklevel=3)
        if not p.steps.min <= steps <= p.steps.max and steps >= 1:
            warnings.warn(f"{steps} steps is outside {p.title}'s recommended {p.steps.min:g}-{p.steps.max:g}",
                          stacklevel=3)
        if p.architecture != "cascade":
            try:
                make_scheduler(sampler, self._base_scheduler_config, p.prediction_type, self.zero_terminal_snr,
                               schedule_type, p.flow_shift)
            except SamplerError as exc:
                problems.append(str(exc))
        elif sampler not in ("Default", p.samplers[0]):
            problems.append(f"Stable Cascade runs with its own DDPMWuerstchen scheduler; {sampler!r} is not available")
        if problems:
            raise GenerationError("; ".join(problems))
        out = {"steps": steps, "cfg": cfg, "width": width, "height": height, "sampler": sampler,
               "schedule_type": schedule_type}
        out.update(extra)
        return out

    # -- generation ---------------------------------------------------------------------------------------
    def generate(self, prompt: str, negative: str | None = None, seed: int = 0, steps: int | None = None,
                 cfg: float | None = None, size: tuple[int, int] | None = None, sampler: str | None = None,
                 batch: int = 1, schedule_type: str | None = None, guidance_rescale: float | None = None,
                 pag_scale: float | None = None, decoder_steps: int | None = None, decoder_cfg: float | None = None,
                 force: bool = False, output_type: str = "pil", callback: Any = None) -> Generation:
        """Generate ``batch`` images. ``size`` is (width, height); defaults come from the profile."""
        import torch

        p = self.profile
        negative = p.presets.negative if negative is None else negative
        s = self.settings(steps, cfg, size, sampler, schedule_type, force)
        parsed = parse(prompt, p.dialect)
        composable = any(type(n) is And for n in parsed.walk())
        scheduled = any(type(n) in (Schedule, Alternation) for n in parsed.walk())
        if composable and (p.architecture == "cascade" or "pag_scale" in _call_parameters(self.pipeline)):
            raise GenerationError("AND (composable diffusion) runs on the SD1 and SDXL pipelines; this pipeline "
                                  "(Stable Cascade or PAG) mixes its own guidance batches")
        if composable and scheduled:
            raise GenerationError("AND together with prompt editing is not supported; use one or the other")
        if scheduled and p.architecture == "cascade":
            raise GenerationError("Stable Cascade pipelines do not let a step callback change the text embeddings, "
                                  "so prompt editing and alternation ([a:b:when], [a|b]) cannot run here")
        owner = self._scheduler_owner()
        call: dict[str, Any] = {"num_inference_steps": s["steps"], "width": s["width"], "height": s["height"],
                                "num_images_per_prompt": batch, "output_type": output_type}
        if p.architecture != "cascade":
            owner.scheduler = make_scheduler(s["sampler"], self._base_scheduler_config, p.prediction_type,
                                             self.zero_terminal_snr, s["schedule_type"], p.flow_shift)
            call["guidance_scale"] = s["cfg"]
        composer = None
        if scheduled:
            schedule = self.encoder.schedule(parsed, s["steps"], negative)
            embeds = schedule.initial
            call["callback_on_step_end"] = schedule.callback()
            call["callback_on_step_end_tensor_inputs"] = schedule.tensor_inputs
        elif composable:
            parts = self.encoder.encode_subprompts(parsed, negative)
            embeds = parts[0][1]
            composer = ComposableGuidance(self.pipeline.unet, parts, self.encoder.architecture)
        else:
            embeds = self.encoder.encode(parsed, negative)
        call.update(embeds)
        params: dict[str, Any] = {"Steps": s["steps"], "Sampler": s["sampler"]}
        if s["schedule_type"]:
            params["Schedule type"] = s["schedule_type"]
        params["CFG scale"] = s["cfg"]
        if p.architecture == "cascade":
            call.pop("num_inference_steps")
            call.update(prior_num_inference_steps=s["steps"], prior_guidance_scale=s["cfg"],
                        num_inference_steps=decoder_steps or p.decoder_steps or 10,
                        decoder_guidance_scale=decoder_cfg if decoder_cfg is not None else (p.decoder_cfg or 2.0))
            params.update({"Decoder steps": call["num_inference_steps"],
                           "Decoder CFG scale": call["decoder_guidance_scale"]})
        rescale = p.guidance_rescale if guidance_rescale is None else guidance_rescale
        if rescale and p.architecture.startswith("sdxl"):
            call["guidance_rescale"] = rescale
            params["CFG Rescale phi"] = rescale
        pag = p.pag_scale if pag_scale is None else pag_scale
        if pag and "pag_scale" in _call_parameters(self.pipeline):
            call["pag_scale"] = pag
            params["PAG scale"] = pag
        if p.prediction_type == "flow":
            params["Shift"] = p.flow_shift if s["schedule_type"] != "Beta" else 1.0
        if callback is not None and "callback_on_step_end" not in call:
            call["callback_on_step_end"] = callback
        device = getattr(self.pipeline, "device", torch.device("cpu"))
        generators = [torch.Generator(device=device).manual_seed(seed + i) for i in range(batch)]
        call["generator"] = generators if batch > 1 else generators[0]
        if composer is not None:
            with composer:
                result = self.pipeline(**call)
        else:
            result = self.pipeline(**call)
        params.update({"Seed": seed, "Size": f"{s['width']}x{s['height']}", "Model": self.model_name})
        if p.clip_skip > 1:
            params["Clip skip"] = p.clip_skip
        params["Version"] = f"promptkit {__version__}"
        infotexts = []
        for i in range(batch):
            per = dict(params, Seed=seed + i)
            infotexts.append(Infotext(prompt, negative, {k: str(v) for k, v in per.items()}).to_text())
        images = result.images if hasattr(result, "images") else result[0]
        return Generation(list(images) if output_type == "pil" else images, params, infotexts)


class ComposableGuidance:
    """A1111's ``AND``: ``uncond + sum_i w_i * cfg * (cond_i - uncond)`` inside a stock diffusers pipeline.

    While active, the UNet's forward receives the pipeline's usual [uncond, cond] batch and evaluates
    [uncond, cond_1 ... cond_n] instead (one batch), returning [uncond, uncond + sum_i w_i (cond_i - uncond)];
    the pipeline's own classifier-free guidance then gives A1111's formula.
    """

    def __init__(self, unet: Any, parts: list[tuple[float, dict]], architecture: str) -> None:
        self.unet = unet
        self.weights = [w for w, _ in parts]
        self.embeds = [kw["prompt_embeds"] for _, kw in parts]
        self.negative = parts[0][1]["negative_prompt_embeds"]
        self.pooled = [kw.get("pooled_prompt_embeds") for _, kw in parts] if architecture == "sdxl" else None
        self._original = None

    def __enter__(self) -> "ComposableGuidance":
        self._original = self.unet.forward
        self.unet.forward = self.forward
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unet.forward = self._original

    def forward(self, sample, timestep, encoder_hidden_states=None, added_cond_kwargs=None, **kwargs):
        import torch

        half = sample.shape[0] // 2
        n = len(self.embeds)
        dtype = encoder_hidden_states.dtype
        samples = torch.cat([sample[:half]] + [sample[half:]] * n)
        states = torch.cat([self.negative.repeat(half, 1, 1)] + [e.repeat(half, 1, 1) for e in self.embeds]).to(dtype)
        if added_cond_kwargs is not None and self.pooled is not None:
            time_ids = added_cond_kwargs["time_ids"]
            negative_pooled = added_cond_kwargs["text_embeds"][:half]
            added_cond_kwargs = {
                "text_embeds": torch.cat([negative_pooled] + [p.repeat(half, 1).to(dtype) for p in self.pooled]),
                "time_ids": torch.cat([time_ids[:half]] * (n + 1)),
            }
        out = self._original(samples, timestep, encoder_hidden_states=states, added_cond_kwargs=added_cond_kwargs,
                             **kwargs)
        pred = out[0] if isinstance(out, tuple) else out.sample
        uncond = pred[:half]
        combined = uncond.clone()
        for i, weight in enumerate(self.weights):
            combined = combined + weight * (pred[half * (i + 1):half * (i + 2)] - uncond)
        result = torch.cat([uncond, combined])
        return (result,) if isinstance(out, tuple) else type(out)(sample=result)


def _call_parameters(pipe: Any) -> set[str]:
    import inspect

    return set(inspect.signature(type(pipe).__call__).parameters)
