"""``Runner``: a profile + a diffusers pipeline + the prompt encoder + A1111 metadata.

Runners are thin and explicit per family (the diffusers way): the profile says which sampler, clip skip,
guidance and sizes the model wants; arguments override them; nonsense is refused before any work starts.
Sampling reproduces A1111: the sampler's sigmas (:meth:`Runner.sampling_sigmas`), the noise of A1111's RNG
sources and seeds (:mod:`.noise`), and the sampler maths (:mod:`.algorithms`) run inside the pipeline's own
denoising loop through :class:`~.scheduler.A1111Scheduler`. Prompt editing and alternation run through the
encoder's step callback.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..infotext import Infotext
from ..profiles import Profile, load_profile
from ..syntax import parse
from ..syntax.ast import Alternation, And, Schedule
from .errors import GenerationError, GenerationWarning
from .loras import a1111_lora_dirs, check_lora_hashes, with_extra_networks
from .noise import NoiseError, check_rng
from .samplers import SamplerError, SamplerSpec, resolve_sampler
from .scheduler import SamplerOptions, SamplingPlan, plan_sampling
from .schedules import DiscreteSchedule, FlowSchedule, ScheduleError, ScheduleOptions


@dataclass
class Generation:
    """What a run made: PIL ``images``, the ``params`` used, and the A1111 ``infotext`` of each image."""

    images: list
    params: dict[str, Any]
    infotexts: list[str] = field(default_factory=list)
    latents: Any = None  # the sampler's final latents (float32, before decoding); None for Stable Cascade
    sigmas: Any = None  # the sigma sequence the sampler integrated over (what Runner.sampling_sigmas returns)

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
    from .model_files import read_tensor_file

    tf = read_tensor_file(path)
    return {"v_pred": "v_pred" in tf, "ztsnr": "ztsnr" in tf}


_PIPELINES = {"sd1": "StableDiffusionPipeline", "sd2": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline",
              "sdxl-vpred": "StableDiffusionXLPipeline", "sdxl-flow": "StableDiffusionXLPipeline",
              "cascade": "StableCascadeCombinedPipeline"}


class Runner:
    """Generate images for one model family. Build with :meth:`from_pipeline` or :meth:`from_single_file`."""

    lora_dirs: tuple[Path, ...] | list[Path] = ()  # folders searched for <lora:name> (see loras.py)
    checkpoint: Any = None  # what from_single_file read from the file (single_file.Detection)

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
        self.checkpoint_path: Path | None = None  # the single file loaded, for A1111's "Model hash"
        self._model_hash: str | None = None
        self._encoders: dict[tuple, Any] = {}  # (clip skip, weighting, dialect) -> encoder, for replays
        self._discrete_schedules: dict[bool, DiscreteSchedule] = {}  # by zero terminal SNR
        if hasattr(pipeline, "set_progress_bar_config"):
            pipeline.set_progress_bar_config(disable=True)

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_pipeline(cls, pipe: Any, profile: str | Profile, **kwargs: Any) -> "Runner":
        return cls(pipe, load_profile(profile) if isinstance(profile, str) else profile, **kwargs)

    @classmethod
    def from_single_file(cls, path: str | Path, profile: str | Profile | None = None, config: str | Path | None = None,
                         allow_pickle: bool = False, torch_dtype: Any = None, decoder: str | Path | None = None,
                         lora_dirs: Any = (), device: Any = None, **kwargs: Any) -> "Runner":
        """Load a single-file checkpoint offline (see ``single_file.py``): family and prediction type from the
        file, ``profile`` (optional) checked against it. Stable Cascade: ``path`` is stage C, ``decoder`` stage
        B. ``config``: use diffusers' own loader with this local diffusers folder instead. Pickled ``.ckpt``
        files need ``allow_pickle=True`` (they can run code). ``lora_dirs``: where ``<lora:name>`` is looked
        up, besides A1111's ``models/Lora`` next to ``models/Stable-diffusion``. ``device``: load the weights
        straight there (one tensor at a time through host memory).
        """
        from .single_file import load_single_file, load_with_diffusers_config

        path = Path(path)
        if config is not None:
            loaded = load_with_diffusers_config(path, profile, config, allow_pickle, torch_dtype)
        else:
            loaded = load_single_file(path, profile, allow_pickle, torch_dtype, decoder, device)
        zsnr = loaded.detection.zero_terminal_snr or None
        runner = cls(loaded.pipeline, loaded.profile, model_name=path.stem, zero_terminal_snr=zsnr, **kwargs)
        runner.checkpoint_path = path
        runner.checkpoint = loaded.detection
        runner.lora_dirs = [Path(d) for d in lora_dirs] + a1111_lora_dirs(path)
        return runner

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

    @property
    def model_hash(self) -> str | None:
        """A1111's "Model hash" (AutoV2: the first 10 hex digits of the checkpoint file's sha256), if known."""
        if self._model_hash is None and self.checkpoint_path is not None and Path(self.checkpoint_path).is_file():
            from .model_hash import autov2_hash

            self._model_hash = autov2_hash(self.checkpoint_path)
        return self._model_hash

    @model_hash.setter
    def model_hash(self, value: str | None) -> None:
        self._model_hash = value

    def model_schedule(self, schedule_type: str | None = None, shift: float | None = None,
                       zero_terminal_snr: bool | None = None) -> DiscreteSchedule | FlowSchedule:
        """The model's noise levels: 1000 discrete sigmas (SD1/SD2/SDXL), or ComfyUI's shifted flow sigmas.

        ``zero_terminal_snr`` overrides the runner's (A1111's "Noise Schedule: Zero Terminal SNR").
        """
        p = self.profile
        if p.prediction_type == "flow":
            if shift is None:
                shift = 1.0 if schedule_type == "Beta" else (p.flow_shift or 1.0)
            return FlowSchedule(shift=float(shift), architecture=p.architecture)
        if shift is not None:
            raise SamplerError("shift applies to flow-matching models only")
        zsnr = bool(self.zero_terminal_snr if zero_terminal_snr is None else zero_terminal_snr)
        if zsnr not in self._discrete_schedules:
            config = dict(self._base_scheduler_config, rescale_betas_zero_snr=zsnr)
            try:
                self._discrete_schedules[zsnr] = DiscreteSchedule.from_config(config, p.prediction_type,
                                                                              p.architecture, zsnr)
            except ScheduleError as exc:
                raise GenerationError(str(exc)) from None
        return self._discrete_schedules[zsnr]

    def sampling_plan(self, sampler: str, steps: int, schedule_type: str | None = None,
                      discard_penultimate_sigma: bool | None = None, shift: float | None = None,
                      schedule_options: ScheduleOptions | None = None, sampler_options: SamplerOptions | None = None,
                      sgm_noise_multiplier: bool = False, zero_terminal_snr: bool | None = None
                      ) -> tuple[SamplingPlan, DiscreteSchedule | FlowSchedule]:
        """The sampler, schedule and sigmas a run with these settings integrates over (and the model schedule)."""
        spec, schedule = resolve_sampler(sampler, schedule_type)
        if self.profile.prediction_type == "flow" and schedule is None:
            schedule = self.profile.schedule_type or "Normal"
        model = self.model_schedule(schedule, shift, zero_terminal_snr)
        plan = plan_sampling(spec, schedule, int(steps), model, discard_penultimate_sigma, schedule_options,
                             sampler_options, sgm_noise_multiplier)
        return plan, model

    def sampling_sigmas(self, sampler: str, steps: int, schedule_type: str | None = None, **kwargs: Any):
        """The sigma sequence :meth:`generate` integrates over for ``sampler`` (A1111 name) and ``steps``.

        A1111 >= 1.9 rules: the sampler's "Automatic" schedule (Karras for DPM++ 2M, Exponential for the 2M/3M SDE
        samplers, k-diffusion's uniform timesteps for Euler, ...), discard-penultimate-sigma where A1111 does it,
        the model's own sigma_min/max, and a final 0. ``kwargs``: ``discard_penultimate_sigma``, ``shift`` (flow
        models), ``schedule_options``, ``sampler_options``. Returns a float32 CPU tensor.
        """
        try:
            return self.sampling_plan(sampler, steps, schedule_type, **kwargs)[0].sigmas
        except (SamplerError, ScheduleError) as exc:
            raise GenerationError(str(exc)) from None

    def settings(self, steps: int | None = None, cfg: float | None = None, size: tuple[int, int] | None = None,
                 sampler: str | None = None, schedule_type: str | None = None, force: bool = False,
                 quiet: bool = False, **extra: Any) -> dict[str, Any]:
        """The settings a run will use (profile defaults, overridden by arguments), validated.

        ``quiet`` skips the warnings about leaving the profile's recommended ranges (infotext replays).
        """
        p = self.profile
        steps = int(steps if steps is not None else p.steps.default)
        cfg = float(cfg if cfg is not None else p.cfg.default)
        width, height = size if size is not None else (p.resolutions[0] if p.resolutions else (1024, 1024))
        sampler = sampler or p.samplers[0]
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
        elif not p.cfg.min <= cfg <= p.cfg.max and not quiet:
            warnings.warn(f"CFG {cfg:g} is outside {p.title}'s recommended {p.cfg.min:g}-{p.cfg.max:g}",
                          GenerationWarning, stacklevel=3)
        if not p.steps.min <= steps <= p.steps.max and steps >= 1 and not quiet:
            warnings.warn(f"{steps} steps is outside {p.title}'s recommended {p.steps.min:g}-{p.steps.max:g}",
                          GenerationWarning, stacklevel=3)
        spec: SamplerSpec | None = None
        if p.architecture != "cascade":
            if schedule_type is None and not _has_schedule_suffix(sampler):
                schedule_type = p.schedule_type
            try:
                spec, resolved = resolve_sampler(sampler, schedule_type)
                if p.prediction_type == "flow" and resolved is None:
                    resolved = p.schedule_type or "Normal"
                schedule_type = resolved
            except SamplerError as exc:
                problems.append(str(exc))
        elif sampler not in ("Default", p.samplers[0]):
            problems.append(f"Stable Cascade runs with its own DDPMWuerstchen scheduler; {sampler!r} is not available")
        if problems:
            raise GenerationError("; ".join(problems))
        out = {"steps": steps, "cfg": cfg, "width": width, "height": height,
               "sampler": spec.name if spec is not None else sampler, "schedule_type": schedule_type, "spec": spec}
        out.update(extra)
        return out

    def _encoder_for(self, clip_skip: int | None, emphasis: str | None, dialect: str | None) -> Any:
        """The runner's encoder, or one with another clip skip / A1111 emphasis mode / dialect (cached)."""
        from ..encode import PromptEncoder

        weighting = _EMPHASIS.get((emphasis or "Original").strip().lower()) if emphasis else self.encoder.weighting
        if weighting is None:
            raise GenerationError(f"Emphasis {emphasis!r} is not something promptkit's encoders do; they do "
                                  "'Original' (A1111's default) and 'No norm'")
        clip_skip = self.encoder.clip_skip if clip_skip is None else int(clip_skip)
        dialect = dialect or self.encoder.dialect
        if (clip_skip, weighting, dialect) == (self.encoder.clip_skip, self.encoder.weighting, self.encoder.dialect):
            return self.encoder
        key = (clip_skip, weighting, dialect)
        if key not in self._encoders:
            self._encoders[key] = PromptEncoder.from_pipeline(self.pipeline, weighting=weighting, clip_skip=clip_skip,
                                                              dialect=dialect)
        return self._encoders[key]

    # -- generation ---------------------------------------------------------------------------------------
    @with_extra_networks
    def generate(self, prompt: str, negative: str | None = None, seed: int = 0, steps: int | None = None,
                 cfg: float | None = None, size: tuple[int, int] | None = None, sampler: str | None = None,
                 batch: int = 1, schedule_type: str | None = None, guidance_rescale: float | None = None,
                 pag_scale: float | None = None, decoder_steps: int | None = None, decoder_cfg: float | None = None,
                 force: bool = False, output_type: str = "pil", callback: Any = None, *, rng: str | None = None,
                 subseed: int | None = None, subseed_strength: float = 0.0,
                 seed_resize_from: tuple[int, int] | None = None, ensd: int = 0, eta: float | None = None,
                 discard_penultimate_sigma: bool | None = None, sgm_noise_multiplier: bool = False,
                 shift: float | None = None, sampler_options: SamplerOptions | None = None,
                 schedule_options: ScheduleOptions | None = None, clip_skip: int | None = None,
                 emphasis: str | None = None, dialect: str | None = None, zero_terminal_snr: bool | None = None,
                 quiet: bool = False) -> Generation:
        """Generate ``batch`` images as A1111 would. ``size`` is (width, height); defaults come from the profile.

        Seeds: image ``i`` uses ``seed + i`` (``-1`` picks a random seed, as in A1111). ``rng`` is A1111's RNG
        source: ``"gpu"`` (default on CUDA), ``"cpu"`` (default elsewhere) or ``"nv"``. ``subseed`` /
        ``subseed_strength`` are the variation seed, ``seed_resize_from`` (width, height) the size the seed was
        first used at, ``ensd`` A1111's eta noise seed delta (31337 in many shared infotexts). ``eta`` is the
        sampler's eta ("Eta", or "Eta DDIM"); ``sgm_noise_multiplier`` scales the first noise by
        sqrt(1 + sigma_max**2). ``clip_skip``, ``emphasis`` and ``dialect`` override the encoder's,
        ``zero_terminal_snr`` the model's noise schedule. The result
        carries the final latents (``Generation.latents``) and the sigmas integrated over.
        """
        import torch

        p = self.profile
        negative = p.presets.negative if negative is None else negative
        s = self.settings(steps, cfg, size, sampler, schedule_type, force, quiet)
        if seed == -1:
            import random

            seed = random.randrange(4294967294)
        if seed < 0 or (subseed is not None and subseed < 0 and subseed != -1):
            raise GenerationError(f"seeds are non-negative integers (or -1 for a random one), not {seed}")
        if subseed == -1:
            import random

            subseed = random.randrange(4294967294)
        if eta is not None and sampler_options is not None and sampler_options.eta is not None:
            raise GenerationError("give eta once: as eta= or in sampler_options, not both")
        if eta is not None:
            sampler_options = SamplerOptions(**{**(vars(sampler_options) if sampler_options else {}), "eta": eta})
        encoder = self._encoder_for(clip_skip, emphasis, dialect)
        dialect = encoder.dialect
        parsed = parse(prompt, dialect)
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
        device = torch.device(getattr(self.pipeline, "device", "cpu"))
        cascade = p.architecture == "cascade"
        plan = None
        if cascade:
            extras = {"subseed": subseed if subseed_strength else None, "seed_resize_from": seed_resize_from,
                      "ensd": ensd or None, "eta": eta, "sgm_noise_multiplier": sgm_noise_multiplier or None,
                      "shift": shift, "rng='nv'": rng if rng and rng.lower() == "nv" else None}
            given = [k for k, v in extras.items() if v]
            if given:
                raise GenerationError(f"Stable Cascade has no A1111 sampling to reproduce; {', '.join(given)} "
                                      "cannot apply (seed and rng='cpu'/'gpu' do)")
        else:
            try:
                plan, model = self.sampling_plan(s["sampler"], s["steps"], s["schedule_type"],
                                                 discard_penultimate_sigma, shift, schedule_options, sampler_options,
                                                 sgm_noise_multiplier, zero_terminal_snr)
            except (SamplerError, ScheduleError) as exc:
                raise GenerationError(str(exc)) from None
        rng = (rng or ("gpu" if device.type == "cuda" else "cpu")).lower()
        try:
            check_rng(rng, device)
        except NoiseError as exc:
            raise GenerationError(str(exc)) from None

        owner = self._scheduler_owner()
        call: dict[str, Any] = {"num_inference_steps": s["steps"], "width": s["width"], "height": s["height"],
                                "num_images_per_prompt": batch, "output_type": output_type}
        if not cascade:
            call["guidance_scale"] = s["cfg"]
        prompt_steps = s["steps"] * 2 if plan is not None and plan.spec.second_order else s["steps"]
        composer = None
        if scheduled:
            schedule = encoder.schedule(parsed, prompt_steps, negative)
            embeds = schedule.initial
            call["callback_on_step_end"] = schedule.callback()
            call["callback_on_step_end_tensor_inputs"] = schedule.tensor_inputs
        elif composable:
            parts = encoder.encode_subprompts(parsed, negative)
            embeds = parts[0][1]
            composer = ComposableGuidance(self.pipeline.unet, parts, encoder.architecture)
        else:
            embeds = encoder.encode(parsed, negative)
        call.update(embeds)
        if cascade:
            call.pop("num_inference_steps")
            call.update(prior_num_inference_steps=s["steps"], prior_guidance_scale=s["cfg"],
                        num_inference_steps=decoder_steps or p.decoder_steps or 10,
                        decoder_guidance_scale=(decoder_cfg if decoder_cfg is not None else
                                                        p.decoder_cfg if p.decoder_cfg is not None else 2.0))
        rescale = p.guidance_rescale if guidance_rescale is None else guidance_rescale
        if rescale and p.architecture.startswith("sdxl"):
            call["guidance_rescale"] = rescale
        pag = p.pag_scale if pag_scale is None else pag_scale
        if pag and "pag_scale" not in _call_parameters(self.pipeline):
            # Never silently without PAG: an explicit request is an error, the profile's default a warning.
            message = (f"{type(self.pipeline).__name__} has no perturbed-attention guidance; "
                       "load the model with a PAG pipeline (from_single_file builds one for profiles that use PAG)")
            if pag_scale is not None:
                raise GenerationError(f"pag_scale={pag_scale:g} cannot be applied: {message}")
            warnings.warn(f"{p.title} recommends PAG scale {pag:g}, which is not applied: {message}",
                          GenerationWarning, stacklevel=2)
            pag = None
        if pag:
            call["pag_scale"] = pag
        if callback is not None and "callback_on_step_end" not in call:
            call["callback_on_step_end"] = callback

        seeds = [seed + i for i in range(batch)]
        adapter = None
        if cascade:
            draw_device = device if rng == "gpu" else torch.device("cpu")
            generators = [torch.Generator(device=draw_device).manual_seed(s_) for s_ in seeds]
            call["generator"] = generators if batch > 1 else generators[0]
        else:
            from .noise import ImageNoise
            from .scheduler import A1111Scheduler, NoiseContext

            factor = int(getattr(self.pipeline, "vae_scale_factor", 8))
            shape = (self.pipeline.unet.config.in_channels, s["height"] // factor, s["width"] // factor)
            subseeds = [subseed + i for i in range(batch)] if subseed is not None else None
            noise = ImageNoise(shape, seeds, rng, device, subseeds, subseed_strength, seed_resize_from, ensd,
                               latent_factor=factor)
            adapter = A1111Scheduler(plan, model, NoiseContext(noise, plan, seeds), self.pipeline.unet.dtype)
            call["latents"] = noise.first()
            call["num_inference_steps"] = len(adapter.timesteps)
        original_scheduler = owner.scheduler
        try:
            if adapter is not None:
                owner.scheduler = adapter
            with _quiet_third_party():
                if composer is not None:
                    with composer:
                        result = self.pipeline(**call)
                else:
                    result = self.pipeline(**call)
        finally:
            owner.scheduler = original_scheduler

        params = self._params(s, plan, rng, seed, subseed, subseed_strength, seed_resize_from, ensd, encoder,
                              sgm_noise_multiplier, rescale if "guidance_rescale" in call else None, pag, shift,
                              model if plan is not None else None, decoder=call if cascade else None)
        infotexts = []
        for i in range(batch):
            per = dict(params, Seed=seed + i)
            if "Variation seed" in per:
                per["Variation seed"] = subseed + i
            infotexts.append(Infotext(prompt, negative, {k: str(v) for k, v in per.items()}).to_text())
        images = result.images if hasattr(result, "images") else result[0]
        return Generation(list(images) if output_type == "pil" else images, params, infotexts,
                          latents=adapter.final_latents if adapter is not None else None,
                          sigmas=plan.sigmas if plan is not None else None)

    def _params(self, s: dict, plan: SamplingPlan | None, rng: str, seed: int, subseed: int | None,
                subseed_strength: float, seed_resize_from: tuple[int, int] | None, ensd: int, encoder: Any,
                sgm_noise_multiplier: bool, rescale: float | None, pag: float | None, shift: float | None,
                model: Any, decoder: dict | None) -> dict[str, Any]:
        """The A1111 infotext parameters of a run, in A1111's order, with every key needed to reproduce it."""
        params: dict[str, Any] = {"Steps": s["steps"], "Sampler": s["sampler"]}
        if plan is not None:
            params["Schedule type"] = plan.schedule_type or "Automatic"
        params["CFG scale"] = s["cfg"]
        params["Seed"] = seed
        params["Size"] = f"{s['width']}x{s['height']}"
        if self.model_hash:
            params["Model hash"] = self.model_hash
        params["Model"] = self.model_name
        if subseed is not None and subseed_strength:
            params["Variation seed"] = subseed
            params["Variation seed strength"] = subseed_strength
        if seed_resize_from and all(seed_resize_from):
            params["Seed resize from"] = f"{seed_resize_from[0]}x{seed_resize_from[1]}"
        if encoder.clip_skip and encoder.clip_skip > 1:
            params["Clip skip"] = encoder.clip_skip
        if ensd:
            params["ENSD"] = ensd
        params["RNG"] = rng.upper()
        if plan is not None:
            if plan.eta is not None and plan.eta != plan.spec.eta_default:
                params[plan.spec.eta_key] = plan.eta
            o = plan.options
            for key, value, default in (("Sigma churn", o.s_churn, 0.0), ("Sigma tmin", o.s_tmin, 0.0),
                                        ("Sigma tmax", o.s_tmax, float("inf")), ("Sigma noise", o.s_noise, 1.0)):
                if value != default:
                    params[key] = value
            if plan.discard_penultimate and not plan.spec.discard_penultimate:
                params["Discard penultimate sigma"] = True
            if sgm_noise_multiplier and plan.spec.kind == "sigma":
                params["SGM noise multiplier"] = True
            if getattr(model, "zero_terminal_snr", False):
                params["Noise Schedule"] = "Zero Terminal SNR"
        if encoder.weighting == "a1111-no-norm":
            params["Emphasis"] = "No norm"
        elif encoder.weighting != "a1111":
            params["Emphasis"] = f"promptkit {encoder.weighting}"
        if decoder is not None:
            params["Decoder steps"] = decoder["num_inference_steps"]
            params["Decoder CFG scale"] = decoder["decoder_guidance_scale"]
        if rescale:
            params["CFG Rescale phi"] = rescale
        if pag:
            params["PAG scale"] = pag
        if self.profile.prediction_type == "flow" and model is not None:
            params["Shift"] = model.shift
        params["Version"] = f"promptkit {__version__}"
        return params

    def generate_from_infotext(self, infotext: str, allow_unsupported: bool = False, check_model_hash: bool = True,
                               **overrides: Any) -> Generation:
        """Run an A1111 infotext (the ``parameters`` text of a PNG) with everything it names.

        Whatever the infotext asks for that promptkit cannot reproduce (hires fix, ADetailer, ControlNet, a
        refiner, img2img, an unknown key ...) is listed in one :class:`~.replay.ReplayError` before any work;
        ``allow_unsupported=True`` runs anyway and warns with the same list. A "Model hash" that does not match
        this runner's checkpoint is an error unless ``check_model_hash=False``. ``overrides`` are passed to
        :meth:`generate` (e.g. ``batch``, ``output_type``).
        """
        import torch

        from .replay import replay_settings

        device = torch.device(getattr(self.pipeline, "device", "cpu"))
        plan = replay_settings(infotext, self.profile, device=device, model_hash=self.model_hash,
                               has_checkpoint=self.checkpoint_path is not None,
                               loaded_embeddings=set(self.encoder.embeddings),
                               has_pag="pag_scale" in _call_parameters(self.pipeline),
                               zero_terminal_snr=bool(self.zero_terminal_snr), allow_unsupported=allow_unsupported,
                               check_model_hash=check_model_hash)
        for message in plan.warnings:
            warnings.warn(message, GenerationWarning, stacklevel=2)
        check_lora_hashes(self, plan.prompt, infotext, check_model_hash)
        kwargs = dict(plan.kwargs)
        kwargs.update(overrides)
        return self.generate(plan.prompt, plan.negative, force=True, quiet=True, **kwargs)


_EMPHASIS = {"original": "a1111", "no norm": "a1111-no-norm"}


def _has_schedule_suffix(sampler: str) -> bool:
    from .samplers import split_sampler

    return split_sampler(sampler)[1] is not None


@contextmanager
def _quiet_third_party():
    """Silence third-party warnings and log notices inside a pipeline call (promptkit's own warnings pass)."""
    import logging

    levels = {name: logging.getLogger(name).level for name in ("diffusers", "transformers", "torch")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("default", category=GenerationWarning)
        for name in levels:
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


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
