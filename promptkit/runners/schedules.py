"""Noise schedules exactly as A1111 (>= 1.9) and ComfyUI compute them.

Two kinds of model schedule:

- :class:`DiscreteSchedule`: SD1/SD2/SDXL (epsilon or v-prediction). 1000 training sigmas from the LDM "linear"
  betas (computed in float64, stored float32 as A1111 stores ``alphas_cumprod``), with k-diffusion's
  log-sigma interpolation between timesteps (``sigma_to_t`` / ``t_to_sigma``). Zero terminal SNR models get
  A1111's "Noise Schedule: Zero Terminal SNR" rescaling.
- :class:`FlowSchedule`: flow matching SDXL (bigASP) as ComfyUI's ``ModelSamplingSD3``: ``sigma(t) = shift*t /
  (1 + (shift-1)*t)`` on 1000 timesteps, the UNet gets ``1000*sigma``.

:func:`schedule_sigmas` turns (schedule type, steps) into the sigma sequence a sampler integrates over,
with A1111's formulas for every schedule type (Uniform, Karras, Exponential, Polyexponential, SGM Uniform,
KL Optimal, Align Your Steps, Simple, Normal, DDIM, Beta) and ComfyUI's for flow models (Normal, Beta, Simple,
SGM Uniform). Every sequence ends in 0 except A1111's KL Optimal, which ends at sigma_min as A1111's does.
The arithmetic follows the reference programs' (float32 tensors where they use them) so that the numbers agree
to float rounding, not merely in shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

# A1111's "Noise Schedule: Zero Terminal SNR": the last alphas_cumprod is set to this instead of 0.
ZTSNR_TERMINAL_ALPHA_BAR = 4.8973451890853435e-08

# Align Your Steps (NVIDIA's published 10-step sigmas, as A1111 ships them).
AYS_SD1 = [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029]
AYS_SDXL = [14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029]


class ScheduleError(ValueError):
    """A schedule type that cannot be computed for this model (or a missing optional dependency)."""


def require_scipy(what: str) -> Any:
    """``scipy`` (for Beta schedules and LMS), or a one-line error naming what needs it."""
    try:
        import scipy.integrate
        import scipy.stats
    except ImportError as exc:  # pragma: no cover - scipy ships with the diffusers extra
        raise ScheduleError(f"{what} needs scipy, which is not installed: pip install 'promptkit[diffusers]' "
                            f"(or pip install scipy)") from exc
    return scipy


@dataclass(frozen=True)
class ScheduleOptions:
    """A1111's schedule settings that change the sigmas (infotext keys in brackets).

    ``sigma_min`` / ``sigma_max`` ("Schedule min sigma" / "Schedule max sigma") replace the model's own ends for
    the schedules that take them; ``rho`` ("Schedule rho") replaces Karras' 7 and Polyexponential's 1;
    ``beta_alpha`` / ``beta_beta`` ("Beta schedule alpha" / "Beta schedule beta") shape the Beta schedule.
    """

    sigma_min: float | None = None
    sigma_max: float | None = None
    rho: float | None = None
    beta_alpha: float = 0.6
    beta_beta: float = 0.6


class _SigmaRange:
    """The ends of a model's ascending training sigmas."""

    sigmas: torch.Tensor

    @property
    def sigma_min(self) -> float:
        return self.sigmas[0].item()

    @property
    def sigma_max(self) -> float:
        return self.sigmas[-1].item()


@dataclass
class DiscreteSchedule(_SigmaRange):
    """The 1000 training noise levels of an SD1/SD2/SDXL model, as k-diffusion's ``DiscreteSchedule`` holds them."""

    alphas_cumprod: torch.Tensor  # float32, timestep 0..999
    prediction: str = "epsilon"  # or "v_prediction"
    architecture: str = "sd1"
    zero_terminal_snr: bool = False
    sigmas: torch.Tensor = field(init=False)
    log_sigmas: torch.Tensor = field(init=False)

    kind = "discrete"

    def __post_init__(self) -> None:
        acp = self.alphas_cumprod
        self.sigmas = ((1 - acp) / acp) ** 0.5
        self.log_sigmas = self.sigmas.log()

    @classmethod
    def from_config(cls, config: dict, prediction: str = "epsilon", architecture: str = "sd1",
                    zero_terminal_snr: bool = False) -> "DiscreteSchedule":
        """From a diffusers scheduler config (``beta_start``, ``beta_end``, ``beta_schedule``, ``trained_betas``)."""
        steps = int(config.get("num_train_timesteps", 1000))
        trained = config.get("trained_betas")
        schedule = config.get("beta_schedule", "scaled_linear")
        if trained is not None:
            betas = np.asarray(trained, dtype=np.float64)
        elif schedule == "scaled_linear":  # what A1111/LDM call "linear": linear in sqrt(beta)
            betas = np.linspace(config.get("beta_start", 0.00085) ** 0.5, config.get("beta_end", 0.012) ** 0.5,
                                steps, dtype=np.float64) ** 2
        elif schedule == "linear":
            betas = np.linspace(config.get("beta_start", 0.0001), config.get("beta_end", 0.02), steps,
                                dtype=np.float64)
        else:
            raise ScheduleError(f"beta_schedule {schedule!r} is not one A1111 runs (it knows the LDM linear "
                                "schedule, 'scaled_linear' in diffusers)")
        acp = torch.tensor(np.cumprod(1.0 - betas), dtype=torch.float32)
        if zero_terminal_snr or config.get("rescale_betas_zero_snr"):
            acp = rescale_zero_terminal_snr(acp)
            zero_terminal_snr = True
        return cls(acp, prediction, architecture, zero_terminal_snr)

    def sigma_to_t(self, sigma: torch.Tensor) -> torch.Tensor:
        """The fractional timestep of a noise level (log-sigma interpolation, no quantization)."""
        sigma = torch.as_tensor(sigma, dtype=torch.float32)
        log_sigma = sigma.log()
        dists = log_sigma - self.log_sigmas[:, None]
        low = dists.ge(0).cumsum(dim=0).argmax(dim=0).clamp(max=self.log_sigmas.shape[0] - 2)
        high = low + 1
        lo, hi = self.log_sigmas[low], self.log_sigmas[high]
        w = ((lo - log_sigma) / (lo - hi)).clamp(0, 1)
        return ((1 - w) * low + w * high).view(sigma.shape)

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t).float()
        low, high, w = t.floor().long(), t.ceil().long(), t.frac()
        return ((1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()

    def model_timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """What the UNet is given for noise level ``sigma``."""
        return self.sigma_to_t(sigma)

    def uniform(self, n: int) -> torch.Tensor:
        """k-diffusion's ``get_sigmas(n)``: timesteps linspace(999, 0, n), then 0 (A1111 "Uniform")."""
        t = torch.linspace(len(self.sigmas) - 1, 0, n)
        return _append_zero(self.t_to_sigma(t))


@dataclass
class FlowSchedule(_SigmaRange):
    """ComfyUI's ``ModelSamplingDiscreteFlow`` (ModelSamplingSD3): rectified flow on 1000 shifted timesteps."""

    shift: float = 1.0
    multiplier: float = 1000.0
    architecture: str = "sdxl"
    prediction: str = "flow"
    sigmas: torch.Tensor = field(init=False)

    kind = "flow"
    zero_terminal_snr = False

    def __post_init__(self) -> None:
        self.sigmas = self.sigma((torch.arange(1, 1001, 1) / 1000) * self.multiplier)

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(timestep) / self.multiplier
        if self.shift == 1.0:
            return t
        return self.shift * t / (1 + (self.shift - 1) * t)

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(sigma) * self.multiplier

    model_timestep = timestep


def rescale_zero_terminal_snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """A1111's zero-terminal-SNR rescaling of ``alphas_cumprod`` (Lin et al. 2023), last value 4.9e-8, not 0."""
    root = alphas_cumprod.sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * (first / (first - last))
    out = root ** 2
    out[-1] = ZTSNR_TERMINAL_ALPHA_BAR
    return out


def _append_zero(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, x.new_zeros([1])])


# -- A1111 schedule types ------------------------------------------------------------------------------------

def karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. (2022): uniform in sigma**(1/rho)."""
    ramp = torch.linspace(0, 1, n)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _append_zero((hi + ramp * (lo - hi)) ** rho)


def exponential(n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Uniform in log sigma."""
    return _append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), n).exp())


def polyexponential(n: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> torch.Tensor:
    """A polynomial (power ``rho``) ramp in log sigma."""
    ramp = torch.linspace(1, 0, n) ** rho
    return _append_zero(torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min)))


def _uniform_in_t(model: DiscreteSchedule, n: int, sigma_min: float, sigma_max: float, sgm: bool) -> torch.Tensor:
    start = model.sigma_to_t(torch.tensor(sigma_max))
    end = model.sigma_to_t(torch.tensor(sigma_min))
    ts = torch.linspace(start, end, n + 1)[:-1] if sgm else torch.linspace(start, end, n)
    return torch.FloatTensor([float(model.t_to_sigma(t)) for t in ts] + [0.0])


def sgm_uniform(model: DiscreteSchedule, n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Timesteps uniform from t(sigma_max) towards t(sigma_min), the last one dropped (SGM's discretization)."""
    return _uniform_in_t(model, n, sigma_min, sigma_max, sgm=True)


def normal(model: DiscreteSchedule, n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Timesteps uniform from t(sigma_max) to t(sigma_min), both ends included."""
    return _uniform_in_t(model, n, sigma_min, sigma_max, sgm=False)


def kl_optimal(n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Uniform in arctan(sigma); n+1 values ending at sigma_min (A1111 appends no 0 here)."""
    a_min = torch.arctan(torch.tensor(sigma_min))
    a_max = torch.arctan(torch.tensor(sigma_max))
    i = torch.arange(n + 1)
    return torch.tan(i / n * a_min + (1.0 - i / n) * a_max)


def align_your_steps(n: int, sdxl: bool) -> torch.Tensor:
    """NVIDIA's Align Your Steps sigmas, log-linearly resampled to ``n`` (the model's own ends are not used)."""
    table = AYS_SDXL if sdxl else AYS_SD1
    if n == len(table):
        return torch.FloatTensor(table + [0.0])
    ys = np.log(table[::-1])
    resampled = np.exp(np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(table)), ys))[::-1]
    return torch.FloatTensor(np.append(resampled, [0.0]))


def simple(model: DiscreteSchedule | FlowSchedule, n: int) -> torch.Tensor:
    """Every (1000/n)-th training sigma from the top."""
    stride = len(model.sigmas) / n
    return torch.FloatTensor([float(model.sigmas[-(1 + int(i * stride))]) for i in range(n)] + [0.0])


def ddim_uniform(model: DiscreteSchedule, n: int) -> torch.Tensor:
    """Training sigmas 1, 1+k, 1+2k ... with k = 1000 // n, high to low (may give more than n steps, as in A1111)."""
    stride = max(len(model.sigmas) // n, 1)
    picked = [float(model.sigmas[i]) for i in range(1, len(model.sigmas), stride)]
    return torch.FloatTensor(picked[::-1] + [0.0])


def a1111_beta(n: int, sigma_min: float, sigma_max: float, alpha: float = 0.6, beta: float = 0.6) -> torch.Tensor:
    """A1111's Beta: sigma_min + ppf(1 - i/(n-1)) * (sigma_max - sigma_min) (linear in sigma, not ComfyUI's)."""
    stats = require_scipy("the Beta schedule").stats
    quantiles = [stats.beta.ppf(x, alpha, beta) for x in 1 - np.linspace(0, 1, n)]
    return torch.FloatTensor([sigma_min + q * (sigma_max - sigma_min) for q in quantiles] + [0.0])


# -- ComfyUI schedules for flow models -----------------------------------------------------------------------

def flow_normal(model: FlowSchedule, n: int, sgm: bool = False) -> torch.Tensor:
    """ComfyUI's ``normal_scheduler`` (``sgm_uniform`` with ``sgm=True``): timesteps uniform in 1000*sigma."""
    start = model.timestep(model.sigmas[-1])
    end = model.timestep(model.sigmas[0])
    append = True
    if sgm:
        timesteps = torch.linspace(start, end, n + 1)[:-1]
    else:
        if math.isclose(float(model.sigma(end)), 0, abs_tol=1e-5):
            n, append = n + 1, False
        timesteps = torch.linspace(start, end, n)
    values = [float(model.sigma(t)) for t in timesteps]
    return torch.FloatTensor(values + ([0.0] if append else []))


def flow_beta(model: FlowSchedule, n: int, alpha: float = 0.6, beta: float = 0.6) -> torch.Tensor:
    """ComfyUI's ``beta_scheduler``: the training sigmas at rounded beta quantiles, duplicates dropped, then 0."""
    stats = require_scipy("the Beta schedule").stats
    last = len(model.sigmas) - 1
    indices = np.rint(stats.beta.ppf(1 - np.linspace(0, 1, n, endpoint=False), alpha, beta) * last)
    picked: list[float] = []
    previous = -1.0
    for index in indices:
        if index != previous:
            picked.append(float(model.sigmas[int(index)]))
        previous = index
    return torch.FloatTensor(picked + [0.0])


# Schedule types by A1111 label; ``None`` means the sampler's own default ("Automatic").
SCHEDULE_TYPES = ("Automatic", "Uniform", "Karras", "Exponential", "Polyexponential", "SGM Uniform", "KL Optimal",
                  "Align Your Steps", "Simple", "Normal", "DDIM", "Beta")
FLOW_SCHEDULE_TYPES = ("Normal", "Beta", "Simple", "SGM Uniform")
_ALIASES = {"automatic": "Automatic", "uniform": "Uniform", "karras": "Karras", "exponential": "Exponential",
            "polyexponential": "Polyexponential", "sgm_uniform": "SGM Uniform", "sgmuniform": "SGM Uniform",
            "sgm uniform": "SGM Uniform", "kl_optimal": "KL Optimal", "kl optimal": "KL Optimal",
            "align_your_steps": "Align Your Steps", "align your steps": "Align Your Steps", "simple": "Simple",
            "normal": "Normal", "ddim": "DDIM", "ddim_uniform": "DDIM", "beta": "Beta"}


def canonical_schedule_type(name: str | None) -> str | None:
    """A1111's label for a schedule type name or alias (``karras`` -> ``Karras``); ``None`` stays ``None``."""
    if name is None:
        return None
    label = _ALIASES.get(name.strip().lower())
    if label is None:
        raise ScheduleError(f"unknown schedule type {name!r}; A1111's are: {', '.join(SCHEDULE_TYPES)}")
    return label


def schedule_sigmas(model: DiscreteSchedule | FlowSchedule, schedule_type: str, steps: int,
                    options: ScheduleOptions | None = None) -> torch.Tensor:
    """The sigmas of ``schedule_type`` (an A1111 label, not "Automatic") over ``steps`` steps for ``model``."""
    options = options or ScheduleOptions()
    if steps < 1:
        raise ScheduleError(f"steps must be at least 1, not {steps}")
    if isinstance(model, FlowSchedule):
        if schedule_type == "Normal":
            return flow_normal(model, steps)
        if schedule_type == "SGM Uniform":
            return flow_normal(model, steps, sgm=True)
        if schedule_type == "Beta":
            return flow_beta(model, steps, options.beta_alpha, options.beta_beta)
        if schedule_type == "Simple":
            return simple(model, steps)
        raise ScheduleError(f"schedule type {schedule_type!r} is not one ComfyUI offers for flow-matching models "
                            f"here; use one of {', '.join(FLOW_SCHEDULE_TYPES)}")
    lo = options.sigma_min if options.sigma_min else model.sigma_min
    hi = options.sigma_max if options.sigma_max else model.sigma_max
    if schedule_type == "Uniform":
        return model.uniform(steps)
    if schedule_type == "Karras":
        return karras(steps, lo, hi, options.rho or 7.0)
    if schedule_type == "Exponential":
        return exponential(steps, lo, hi)
    if schedule_type == "Polyexponential":
        return polyexponential(steps, lo, hi, options.rho or 1.0)
    if schedule_type == "SGM Uniform":
        return sgm_uniform(model, steps, lo, hi)
    if schedule_type == "KL Optimal":
        return kl_optimal(steps, lo, hi)
    if schedule_type == "Align Your Steps":
        return align_your_steps(steps, model.architecture.startswith("sdxl"))
    if schedule_type == "Simple":
        return simple(model, steps)
    if schedule_type == "Normal":
        return normal(model, steps, lo, hi)
    if schedule_type == "DDIM":
        return ddim_uniform(model, steps)
    if schedule_type == "Beta":
        return a1111_beta(steps, lo, hi, options.beta_alpha, options.beta_beta)
    raise ScheduleError(f"unknown schedule type {schedule_type!r}; A1111's are: {', '.join(SCHEDULE_TYPES)}")
