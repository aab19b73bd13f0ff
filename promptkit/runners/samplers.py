"""A1111's sampler names and what each one means: algorithm, default schedule, noise, step accounting.

The table is A1111 1.10's (``sd_samplers_kdiffusion.py``, ``sd_samplers_timesteps.py``): "Automatic" picks
Karras for DPM++ 2M, DPM++ SDE, DPM++ 2S a, DPM2, DPM2 a and Restart, Exponential for DPM++ 2M SDE (Heun) and
DPM++ 3M SDE, and k-diffusion's uniform timesteps for the rest; DPM2, DPM2 a and DPM++ 3M SDE compute one sigma
more and drop the one before the final 0 ("discard penultimate sigma"). Old names such as ``DPM++ 2M Karras``
mean the base sampler with that schedule type. A name promptkit cannot run exactly is an error that says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from . import algorithms
from .schedules import ScheduleError, canonical_schedule_type


class SamplerError(ValueError):
    """An A1111 sampler or schedule name that cannot be run (exactly) for this model."""


@dataclass(frozen=True)
class SamplerSpec:
    """One A1111 sampler.

    ``kind`` is ``"sigma"`` (k-diffusion: the model is asked for denoised latents at noise levels) or
    ``"timestep"`` (A1111's DDIM/PLMS/UniPC: asked for eps at UNet timesteps, on VP latents).
    ``default_schedule`` is what "Automatic" means (``None``: k-diffusion's uniform timesteps).
    ``ancestral`` samplers draw step noise from the per-image generators (so ENSD applies); ``brownian`` ones
    use Brownian-tree noise seeded with the image seeds. ``second_order`` samplers count twice the steps for
    prompt editing, as A1111 does. ``eta_key``/``eta_default`` name the eta the sampler takes, if any.
    """

    name: str
    algorithm: Callable[..., Any]
    kind: str = "sigma"
    default_schedule: str | None = None
    discard_penultimate: bool = False
    ancestral: bool = False
    brownian: bool = False
    second_order: bool = False
    eta_key: str | None = None
    eta_default: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)
    churn: bool = False  # takes s_churn/s_tmin/s_tmax/s_noise ("Sigma churn" ...)

    def automatic(self) -> str | None:
        return self.default_schedule


def _k(name, algorithm, **kw) -> SamplerSpec:
    return SamplerSpec(name, algorithm, **kw)


SAMPLERS: dict[str, SamplerSpec] = {s.name: s for s in [
    _k("DPM++ 2M", algorithms.dpmpp_2m, default_schedule="Karras"),
    _k("DPM++ SDE", algorithms.dpmpp_sde, default_schedule="Karras", brownian=True, second_order=True,
       eta_key="Eta"),
    _k("DPM++ 2M SDE", algorithms.dpmpp_2m_sde, default_schedule="Exponential", brownian=True, eta_key="Eta"),
    _k("DPM++ 2M SDE Heun", algorithms.dpmpp_2m_sde, default_schedule="Exponential", brownian=True,
       eta_key="Eta", options={"solver_type": "heun"}),
    _k("DPM++ 2S a", algorithms.dpmpp_2s_ancestral, default_schedule="Karras", ancestral=True, second_order=True,
       eta_key="Eta"),
    _k("DPM++ 3M SDE", algorithms.dpmpp_3m_sde, default_schedule="Exponential", discard_penultimate=True,
       brownian=True, eta_key="Eta"),
    _k("Euler a", algorithms.euler_ancestral, ancestral=True, eta_key="Eta"),
    _k("Euler", algorithms.euler, churn=True),
    _k("LMS", algorithms.lms),
    _k("Heun", algorithms.heun, second_order=True, churn=True),
    _k("DPM2", algorithms.dpm_2, default_schedule="Karras", discard_penultimate=True, second_order=True, churn=True),
    _k("DPM2 a", algorithms.dpm_2_ancestral, default_schedule="Karras", discard_penultimate=True, ancestral=True,
       second_order=True, eta_key="Eta"),
    _k("DPM fast", algorithms.dpm_fast, ancestral=True, eta_key="Eta"),
    _k("Restart", algorithms.restart, default_schedule="Karras", second_order=True),
    _k("DDIM", algorithms.ddim, kind="timestep", eta_key="Eta DDIM", eta_default=0.0),
    _k("PLMS", algorithms.plms, kind="timestep"),
    _k("UniPC", algorithms.unipc, kind="timestep"),
]}

ALIASES = {"k_euler_a": "Euler a", "k_euler_ancestral": "Euler a", "k_euler": "Euler", "k_lms": "LMS",
           "k_heun": "Heun", "k_dpm_2": "DPM2", "k_dpm_2_a": "DPM2 a", "k_dpmpp_2s_a": "DPM++ 2S a",
           "k_dpmpp_2m": "DPM++ 2M", "k_dpmpp_sde": "DPM++ SDE", "k_dpmpp_2m_sde": "DPM++ 2M SDE",
           "k_dpmpp_2m_sde_heun": "DPM++ 2M SDE Heun", "k_dpmpp_3m_sde": "DPM++ 3M SDE", "k_dpm_fast": "DPM fast",
           "restart": "Restart", "ddim": "DDIM", "plms": "PLMS", "unipc": "UniPC"}

# Names A1111 has that promptkit does not run, with the reason (an error, never a silent substitute).
UNSUPPORTED = {
    "DPM adaptive": "it chooses its own steps from the image as it goes, which a diffusers denoising loop "
                    "cannot follow",
    "DDIM CFG++": "CFG++ renoises with the unconditional prediction, which diffusers' CFG does not expose",
    "LCM": "it needs an LCM-distilled model and A1111's LCM denoiser",
    "DDPM": "A1111 has no DDPM sampler",
}

# Old A1111 names carry the schedule: "DPM++ 2M Karras", "DPM++ 2M SDE Exponential" ...
_SCHEDULE_SUFFIXES = ("Karras", "Exponential", "Uniform", "SGM Uniform", "Beta", "Normal", "Simple", "DDIM",
                      "Polyexponential", "KL Optimal", "Align Your Steps")


def split_sampler(name: str, schedule_type: str | None = None) -> tuple[str, str | None]:
    """``"DPM++ 2M Karras"`` -> ``("DPM++ 2M", "Karras")``; an explicit schedule type wins over the suffix."""
    base = name.strip()
    base = ALIASES.get(base, base)
    for suffix in sorted(_SCHEDULE_SUFFIXES, key=len, reverse=True):
        if base.endswith(" " + suffix) and base[: -len(suffix) - 1] in SAMPLERS:
            return base[: -len(suffix) - 1], schedule_type or suffix
    return base, schedule_type


def supported() -> str:
    return ", ".join(SAMPLERS)


def resolve_sampler(name: str, schedule_type: str | None = None) -> tuple[SamplerSpec, str | None]:
    """The sampler and the schedule type it runs with (an A1111 label; ``None`` = the sampler's uniform default)."""
    base, schedule = split_sampler(name, schedule_type)
    if base in UNSUPPORTED:
        raise SamplerError(f"sampler {base!r} cannot be reproduced here: {UNSUPPORTED[base]}; "
                           f"supported: {supported()}")
    spec = SAMPLERS.get(base)
    if spec is None:
        raise SamplerError(f"unknown sampler {name!r}; supported: {supported()} "
                           "(old names with a schedule, like 'DPM++ 2M Karras', work too)")
    try:
        schedule = canonical_schedule_type(schedule)
    except ScheduleError as exc:
        raise SamplerError(str(exc)) from None
    if schedule == "Automatic" or schedule is None:
        schedule = spec.default_schedule
    if spec.kind == "timestep" and schedule is not None:
        raise SamplerError(f"{spec.name} runs on A1111's own timestep grid; it takes no schedule type "
                           f"(got {schedule!r})")
    return spec, schedule
