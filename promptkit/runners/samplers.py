"""A1111 sampler and schedule-type names -> diffusers schedulers, per prediction type.

The table follows diffusers' documented A1111 mapping (shared/reference/diffusers-runners.md 1.3). A name
diffusers cannot honour (a Karras schedule on a scheduler without one, any sampler but Euler on a flow
model) is an error that lists what is supported, raised before any work starts.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

SAMPLERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "DPM++ 3M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++", "solver_order": 3}),
    "DPM++ SDE": ("DPMSolverSinglestepScheduler", {}),
    "DPM2": ("KDPM2DiscreteScheduler", {}),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "DDPM": ("DDPMScheduler", {}),
}

SCHEDULE_TYPES: dict[str, dict[str, Any]] = {
    "Automatic": {},
    "Karras": {"use_karras_sigmas": True},
    "Exponential": {"timestep_spacing": "linspace", "use_exponential_sigmas": True},
    "Beta": {"timestep_spacing": "linspace", "use_beta_sigmas": True},
    "SGM Uniform": {"timestep_spacing": "trailing"},
    "Simple": {"timestep_spacing": "trailing"},
    "Normal": {},
}


class SamplerError(ValueError):
    """An A1111 sampler or schedule name that diffusers cannot run for this model."""


def split_sampler(name: str, schedule_type: str | None = None) -> tuple[str, str | None]:
    """``"DPM++ 2M Karras"`` (old A1111 names) -> ``("DPM++ 2M", "Karras")``; an explicit schedule type wins."""
    base = name.strip()
    for suffix in ("Karras", "Exponential", "Beta"):
        if base.endswith(" " + suffix) and base[: -len(suffix) - 1] in SAMPLERS:
            return base[: -len(suffix) - 1], schedule_type or suffix
    return base, schedule_type


def supported() -> str:
    return ", ".join(list(SAMPLERS) + [f"{s} Karras" for s in ("DPM++ 2M", "DPM++ 2M SDE", "DPM++ 3M SDE",
                                                                 "DPM++ SDE", "LMS")])


def make_scheduler(name: str, base_config: dict, prediction: str = "epsilon", zero_snr: bool = False,
                   schedule_type: str | None = None, flow_shift: float | None = None):
    """Build the diffusers scheduler for an A1111 sampler name on a model of this prediction type."""
    import diffusers

    sampler, schedule = split_sampler(name, schedule_type)
    if schedule is not None and schedule not in SCHEDULE_TYPES:
        raise SamplerError(f"unknown schedule type {schedule!r}; supported: {', '.join(SCHEDULE_TYPES)}")
    if prediction == "flow":
        if sampler != "Euler":
            raise SamplerError(f"{name!r} cannot run a flow-matching model; use 'Euler' (shift {flow_shift or 6})")
        if schedule == "Beta":
            return FlowMatchEulerForUNet(shift=1.0, use_beta_sigmas=True)
        return FlowMatchEulerForUNet(shift=flow_shift or 6.0)
    if sampler not in SAMPLERS:
        raise SamplerError(f"unknown sampler {name!r}; supported: {supported()}")
    cls_name, extra = SAMPLERS[sampler]
    cls = getattr(diffusers, cls_name)
    kwargs: dict[str, Any] = dict(extra)
    kwargs.update(SCHEDULE_TYPES.get(schedule or "Automatic", {}))
    if prediction == "v_prediction":
        kwargs["prediction_type"] = "v_prediction"
        if zero_snr:
            kwargs.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
    accepted = set(inspect.signature(cls.__init__).parameters)
    missing = [k for k in kwargs if k not in accepted]
    if missing:
        raise SamplerError(f"diffusers' {cls_name} (A1111 {sampler!r}) has no {', '.join(missing)}: "
                           f"{name!r}{' with ' + schedule if schedule else ''} is not available; "
                           f"supported: {supported()}")
    config = {k: v for k, v in base_config.items() if not k.startswith("_")}
    return cls.from_config(config, **kwargs)


@functools.cache
def _flow_scheduler_class():
    from diffusers import FlowMatchEulerDiscreteScheduler

    class _FlowMatchEulerForUNet(FlowMatchEulerDiscreteScheduler):
        """FlowMatchEuler usable by the SDXL UNet pipelines (bigASP v2.5).

        Those pipelines call ``init_noise_sigma`` and ``scale_model_input``, which FlowMatch schedulers lack;
        x_T is pure noise (sigma_max = 1) and flow inputs are not scaled.
        """

        init_noise_sigma = 1.0

        def scale_model_input(self, sample, timestep=None):
            return sample

    return _FlowMatchEulerForUNet


def FlowMatchEulerForUNet(**kwargs):  # noqa: N802 - behaves as a class constructor
    return _flow_scheduler_class()(**kwargs)
