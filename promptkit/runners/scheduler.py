"""What a run integrates over (:class:`SamplingPlan`) and the diffusers scheduler running it (:class:`A1111Scheduler`).

A diffusers pipeline's denoising loop calls ``scale_model_input``, the UNet, classifier-free guidance and
``step`` once per entry of ``scheduler.timesteps``. :class:`A1111Scheduler` makes each entry one model
evaluation of an A1111 sampler (:mod:`.algorithms`): ``timesteps`` holds the UNet timestep of every evaluation
(found by running the sampler once on a dummy latent, so the schedule is computed by the same code that then
samples), ``scale_model_input`` applies k-diffusion's input scaling for that noise level, and ``step`` turns the
guided model output into what the sampler asked for (denoised latents, or eps for DDIM/PLMS/UniPC) and resumes
the sampler. CFG on the model output equals A1111's CFG on the denoised latents (the conversion is affine and the
same for both halves). Everything else the pipeline does (prompt-editing callbacks, PAG, decoding) is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch

from .algorithms import _VPSchedule, a1111_timesteps, unipc_grid
from .noise import BrownianNoise, ImageNoise, NoiseError, require_torchsde
from .samplers import SamplerError, SamplerSpec
from .schedules import DiscreteSchedule, FlowSchedule, ScheduleOptions, require_scipy, schedule_sigmas


@dataclass(frozen=True)
class SamplerOptions:
    """Sampler settings A1111 writes into the infotext when they differ from its defaults.

    ``eta`` ("Eta", or "Eta DDIM" for DDIM; ``None`` = the sampler's default), ``s_churn``/``s_tmin``/
    ``s_tmax``/``s_noise`` ("Sigma churn", "Sigma tmin", "Sigma tmax", "Sigma noise"; Euler, Heun and DPM2 only).
    """

    eta: float | None = None
    s_churn: float = 0.0
    s_tmin: float = 0.0
    s_tmax: float = float("inf")
    s_noise: float = 1.0


@dataclass
class SamplingPlan:
    """One run's sampler, schedule and the sigmas it integrates over (``sigmas`` is what ``sampling_sigmas`` returns).

    For k-diffusion samplers ``sigmas`` ends in 0 (KL Optimal: at sigma_min, as in A1111). For DDIM/PLMS it is the
    sigma of each point of A1111's timestep grid, high to low, ending at timestep 1; for UniPC the sigma of its
    time-uniform grid, ending at t = 1/1000 (sigma_min); for DPM fast its own log-sigma grid. ``init_sigma``
    scales the starting noise.
    """

    spec: SamplerSpec
    schedule_type: str | None
    steps: int
    sigmas: torch.Tensor
    init_sigma: torch.Tensor
    discard_penultimate: bool = False
    grid: torch.Tensor | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: SamplerOptions = SamplerOptions()

    @property
    def eta(self) -> float | None:
        if self.spec.eta_key is None:
            return None
        return self.spec.eta_default if self.options.eta is None else self.options.eta


def plan_sampling(spec: SamplerSpec, schedule_type: str | None, steps: int, model: DiscreteSchedule | FlowSchedule,
                  discard_penultimate: bool | None = None, schedule_options: ScheduleOptions | None = None,
                  options: SamplerOptions | None = None, sgm_noise_multiplier: bool = False) -> SamplingPlan:
    """Everything A1111's ``get_sigmas`` / ``get_timesteps`` and ``sample`` decide before the first model call."""
    options = options or SamplerOptions()
    if steps < 1:
        raise SamplerError(f"steps must be at least 1, not {steps}")
    if model.kind == "flow" and spec.name != "Euler":
        raise SamplerError(f"{spec.name!r} cannot run a flow-matching model; use 'Euler' (what ComfyUI and the "
                           "model card use)")
    if spec.brownian:
        try:
            require_torchsde()
        except NoiseError as exc:
            raise SamplerError(str(exc)) from None
    if spec.name == "LMS":
        require_scipy("the LMS sampler")
    discard = spec.discard_penultimate or bool(discard_penultimate)
    n = steps + (1 if discard else 0)
    kwargs: dict[str, Any] = dict(spec.options)
    if spec.eta_key is not None:
        kwargs["eta"] = spec.eta_default if options.eta is None else options.eta
    elif options.eta is not None:
        raise SamplerError(f"{spec.name} takes no eta")
    if spec.churn:
        kwargs.update(s_churn=options.s_churn, s_tmin=options.s_tmin, s_tmax=options.s_tmax, s_noise=options.s_noise)
    elif (options.s_churn, options.s_tmin, options.s_tmax, options.s_noise) != (0.0, 0.0, float("inf"), 1.0):
        raise SamplerError(f"sigma churn/tmin/tmax/noise apply to Euler, Heun and DPM2 in A1111, not {spec.name}")

    if spec.kind == "timestep":
        grid = a1111_timesteps(n)
        acp = model.alphas_cumprod
        if spec.name == "UniPC":
            ns = _VPSchedule(acp)
            sigmas = torch.exp(-ns.lam(unipc_grid(ns, len(grid))))
            kwargs.update(steps=len(grid), alphas_cumprod=acp)
        else:
            sigmas = model.sigmas[grid.flip(0)]
            kwargs.update(timesteps=grid, alphas_cumprod=acp)
        return SamplingPlan(spec, None, steps, sigmas, torch.tensor(1.0), discard, grid, kwargs, options)

    if spec.name == "DPM fast":
        if schedule_type is not None:
            raise SamplerError("DPM fast integrates on its own log-sigma grid between the model's sigma_max and "
                               f"sigma_min; it takes no schedule type (got {schedule_type!r})")
        m = steps // 3 + 1
        ts = torch.linspace(-torch.tensor(model.sigma_max).log(), -torch.tensor(model.sigma_min).log(), m + 1)
        kwargs.update(sigma_min=model.sigma_min, sigma_max=model.sigma_max, n=steps)
        init = model.uniform(steps)[0]
        return SamplingPlan(spec, None, steps, ts.neg().exp(), _noise_multiplier(init, sgm_noise_multiplier),
                            discard, None, kwargs, options)

    if schedule_type is None:
        if model.kind == "flow":
            raise SamplerError("a flow-matching model needs a schedule type (Normal, Beta, Simple or SGM Uniform)")
        sigmas = model.uniform(n)
    else:
        sigmas = schedule_sigmas(model, schedule_type, n, schedule_options)
    if discard:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    return SamplingPlan(spec, schedule_type, steps, sigmas, _noise_multiplier(sigmas[0], sgm_noise_multiplier),
                        discard, None, kwargs, options)


def _noise_multiplier(sigma: torch.Tensor, sgm: bool) -> torch.Tensor:
    """A1111 scales the starting noise by sigmas[0], or by sqrt(1 + sigmas[0]**2) with "SGM noise multiplier"."""
    return torch.sqrt(1.0 + sigma ** 2.0) if sgm else sigma


def run_algorithm(plan: SamplingPlan, x: torch.Tensor, ctx: Any):
    """Start the plan's sampler coroutine on starting latents ``x`` (already scaled by ``plan.init_sigma``)."""
    if plan.spec.kind == "timestep":
        return plan.spec.algorithm(x, ctx=ctx, **plan.kwargs)
    return plan.spec.algorithm(x, plan.sigmas, ctx, **plan.kwargs)


class _DryRun:
    """Randomness that is all zeros: running a sampler with it reveals where it will evaluate the model."""

    def randn_like(self, x):
        return torch.zeros_like(x)

    def noise(self, sigma, sigma_next):
        return torch.zeros(())

    def start(self, x):
        pass


def evaluation_levels(plan: SamplingPlan) -> list[Any]:
    """The noise level (or UNet timestep) of every model evaluation the plan's sampler will make, in order."""
    levels = []
    coroutine = run_algorithm(plan, torch.zeros(1, 1, 1, 1), _DryRun())
    try:
        x, level = next(coroutine)
        while True:
            levels.append(level)
            x, level = coroutine.send(torch.zeros_like(x))
    except StopIteration:
        pass
    return levels


class NoiseContext:
    """The randomness of a real run: per-image generator draws and, for SDE samplers, Brownian-tree noise."""

    def __init__(self, image_noise: ImageNoise, plan: SamplingPlan, seeds: list[int]) -> None:
        self.image_noise = image_noise
        self.plan = plan
        self.seeds = seeds
        self.tree: BrownianNoise | None = None

    def start(self, x: torch.Tensor) -> None:
        if self.plan.spec.brownian:
            sigmas = self.plan.sigmas
            self.tree = BrownianNoise(x, sigmas[sigmas > 0].min(), sigmas.max(), self.seeds)

    def randn_like(self, x: torch.Tensor) -> torch.Tensor:
        return self.image_noise.next()

    def noise(self, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
        if self.tree is not None:
            return self.tree(sigma, sigma_next)
        return self.image_noise.next()


class A1111Scheduler:
    """A diffusers-pipeline scheduler that runs one A1111 sampler exactly (one pipeline step per model evaluation).

    Give the pipeline ``latents=`` the unscaled starting noise (it multiplies by ``init_noise_sigma``) and
    ``num_inference_steps=len(scheduler.timesteps)``. After the run, ``final_latents`` holds the sampler's
    float32 result. ``model_dtype`` is the UNet's dtype (the sampler itself runs in float32, as A1111's does).
    """

    order = 1

    def __init__(self, plan: SamplingPlan, model: DiscreteSchedule | FlowSchedule, ctx: Any,
                 model_dtype: torch.dtype | None = None) -> None:
        self.plan = plan
        self.model = model
        self.ctx = ctx
        self.model_dtype = model_dtype
        self.config = SimpleNamespace(num_train_timesteps=1000)
        self.levels = evaluation_levels(plan)
        self.timesteps = torch.stack([self._unet_timestep(level) for level in self.levels]).to(torch.float32)
        self.init_noise_sigma = plan.init_sigma
        self.final_latents: torch.Tensor | None = None
        self._index = 0
        self._coroutine = None
        self._x: torch.Tensor | None = None

    # -- what the pipeline calls ----------------------------------------------------------------------------
    def set_timesteps(self, num_inference_steps: int | None = None, device: Any = None, **kwargs: Any) -> None:
        if num_inference_steps is not None and num_inference_steps != len(self.levels):
            raise SamplerError(f"this {self.plan.spec.name} run makes {len(self.levels)} model evaluations; call the "
                               f"pipeline with num_inference_steps={len(self.levels)} (got {num_inference_steps})")
        if device is not None:
            self.timesteps = self.timesteps.to(device)
        self._index = 0
        self._coroutine = None

    def scale_model_input(self, sample: torch.Tensor, timestep: Any = None) -> torch.Tensor:
        level = self.levels[self._index]
        if self.plan.spec.kind == "sigma" and self.model.kind == "discrete":
            sample = sample * (1 / (level ** 2 + 1) ** 0.5).to(sample.device)
        return sample.to(self.model_dtype) if self.model_dtype is not None else sample

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, return_dict: bool = True,
             **kwargs: Any):
        if self._coroutine is None:
            x = sample.to(torch.float32)
            self.ctx.start(x)
            self._coroutine = run_algorithm(self.plan, x, self.ctx)
            self._x, level = next(self._coroutine)
            self._check(level, 0)
        answer = self._answer(model_output.to(torch.float32), self._x, self.levels[self._index])
        self._index += 1
        try:
            self._x, level = self._coroutine.send(answer)
            self._check(level, self._index)
            out = self._x.to(sample.dtype)
        except StopIteration as done:
            self.final_latents = done.value
            # the pipeline decodes what the last step returns: hand it over in the model's dtype, as diffusers does
            out = done.value.to(self.model_dtype or sample.dtype)
        if not return_dict:
            return (out,)
        return SimpleNamespace(prev_sample=out)

    # -- conversions --------------------------------------------------------------------------------------
    def _check(self, level: Any, index: int) -> None:
        if index >= len(self.levels) or not _same_level(level, self.levels[index]):
            raise RuntimeError(f"{self.plan.spec.name} asked for a model evaluation the plan did not foresee "
                               f"(#{index}); its steps depend on the image, which a pipeline loop cannot follow")

    def _unet_timestep(self, level: Any) -> torch.Tensor:
        if self.plan.spec.kind == "timestep":
            return torch.tensor(float(level))
        return self.model.model_timestep(torch.as_tensor(level)).reshape(())

    def _answer(self, output: torch.Tensor, x: torch.Tensor, level: Any) -> torch.Tensor:
        """The guided model output as the sampler wants it: denoised latents, or eps for timestep samplers."""
        prediction = self.model.prediction
        if self.plan.spec.kind == "timestep":
            if prediction == "v_prediction":  # A1111: eps = sqrt(acp[t]) v + sqrt(1 - acp[t]) x, t as an integer
                acp = self.model.alphas_cumprod[int(level)]
                return acp.sqrt() * output + (1 - acp).sqrt() * x
            return output
        sigma = torch.as_tensor(level).to(x.device)
        if prediction == "flow":
            return x - output * sigma
        if prediction == "v_prediction":
            return output * (-sigma / (sigma ** 2 + 1) ** 0.5) + x * (1 / (sigma ** 2 + 1))
        return x + output * -sigma


def _same_level(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return bool(torch.equal(torch.as_tensor(a).reshape(()), torch.as_tensor(b).reshape(())))
    return a == b
