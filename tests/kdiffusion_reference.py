"""The reference programs for the runner tests: k-diffusion 0.1.1.post1 and A1111's sampling rules around it.

k-diffusion is installed from PyPI with ``pip install --no-deps k-diffusion==0.1.1.post1`` (its package
``__init__`` imports torchvision, which breaks beside this torch), so its ``sampling.py`` and ``external.py`` are
loaded here on their own, as shared/reference/a1111-sampling.md (section 3) says: a stand-in ``utils`` module
provides the one helper they use (``append_dims``) and ``torchdiffeq`` (only ``log_likelihood`` needs it) is
left out. The Brownian tree is torchsde's, as in k-diffusion.

Around k-diffusion this file rebuilds what A1111 >= 1.9 does with it (``sd_samplers_kdiffusion.get_sigmas``,
``sd_schedulers``, ``rng.ImageRNG``, ``CFGDenoiser``, the ``TorchHijack`` that routes k-diffusion's
``torch.randn_like`` to the per-image generators, and ``sd_samplers_timesteps_impl.ddim``), written for the tests
from A1111's described behaviour and independently of promptkit's code, so that the two can disagree.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

_CACHE: dict[str, types.ModuleType] = {}


def kdiffusion():
    """(sampling, external) modules of the installed k-diffusion, loaded without its package __init__."""
    if "sampling" in _CACHE:
        return _CACHE["sampling"], _CACHE["external"]
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None or spec.submodule_search_locations is None:
        if __import__("os").environ.get("CI"):
            raise RuntimeError("k-diffusion is not installed: the README's test set-up installs it "
                               "(pip install --no-deps k-diffusion==0.1.1.post1)")
        pytest.skip("k-diffusion is not installed (pip install --no-deps k-diffusion==0.1.1.post1)")
    pytest.importorskip("torchsde")
    folder = Path(list(spec.submodule_search_locations)[0])
    package = types.ModuleType("_kdiff_ref")
    package.__path__ = [str(folder)]
    utils = types.ModuleType("_kdiff_ref.utils")

    def append_dims(x, target_dims):
        dims_to_append = target_dims - x.ndim
        return x[(...,) + (None,) * dims_to_append]

    utils.append_dims = append_dims
    package.utils = utils
    sys.modules["_kdiff_ref"] = package
    sys.modules["_kdiff_ref.utils"] = utils
    stub_added = importlib.util.find_spec("torchdiffeq") is None
    if stub_added:  # only log_likelihood uses it
        sys.modules["torchdiffeq"] = types.SimpleNamespace(odeint=None)
    try:
        modules = {}
        for name in ("sampling", "external"):
            module_spec = importlib.util.spec_from_file_location(f"_kdiff_ref.{name}", folder / f"{name}.py")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[f"_kdiff_ref.{name}"] = module
            module_spec.loader.exec_module(module)
            setattr(package, name, module)
            modules[name] = module
    finally:
        if stub_added:
            del sys.modules["torchdiffeq"]
    _CACHE.update(modules)
    return modules["sampling"], modules["external"]


# -- the model's sigmas as A1111 holds them --------------------------------------------------------------------

def a1111_alphas_cumprod(beta_start=0.00085, beta_end=0.012, steps=1000) -> torch.Tensor:
    """LDM's "linear" schedule: sqrt-linear betas in float64, alphas_cumprod stored as float32."""
    betas = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, steps, dtype=torch.float64) ** 2
    return torch.tensor(np.cumprod(1.0 - betas.numpy(), axis=0), dtype=torch.float32)


def a1111_ztsnr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    root = alphas_cumprod.sqrt()
    a0, at = root[0].clone(), root[-1].clone()
    root -= at
    root *= a0 / (a0 - at)
    out = root ** 2
    out[-1] = 4.8973451890853435e-08
    return out


class _FakeLDM:
    """What k-diffusion's CompVis wrappers need from an LDM model: alphas_cumprod and apply_model."""

    def __init__(self, alphas_cumprod, apply_model=None):
        self.alphas_cumprod = alphas_cumprod
        self.apply_model = apply_model


def compvis(alphas_cumprod, v=False, apply_model=None):
    _, external = kdiffusion()
    cls = external.CompVisVDenoiser if v else external.CompVisDenoiser
    return cls(_FakeLDM(alphas_cumprod, apply_model))


# -- A1111's get_sigmas ------------------------------------------------------------------------------------------

# (k-diffusion function, A1111 options) per A1111 1.10 sampler name
A1111_SAMPLERS = {
    "DPM++ 2M": ("sample_dpmpp_2m", {"scheduler": "karras"}),
    "DPM++ SDE": ("sample_dpmpp_sde", {"scheduler": "karras", "brownian_noise": True, "second_order": True}),
    "DPM++ 2M SDE": ("sample_dpmpp_2m_sde", {"scheduler": "exponential", "brownian_noise": True}),
    "DPM++ 2M SDE Heun": ("sample_dpmpp_2m_sde", {"scheduler": "exponential", "brownian_noise": True,
                                                  "solver_type": "heun"}),
    "DPM++ 2S a": ("sample_dpmpp_2s_ancestral", {"scheduler": "karras", "uses_ensd": True}),
    "DPM++ 3M SDE": ("sample_dpmpp_3m_sde", {"scheduler": "exponential", "discard_next_to_last_sigma": True,
                                             "brownian_noise": True}),
    "Euler a": ("sample_euler_ancestral", {"uses_ensd": True}),
    "Euler": ("sample_euler", {}),
    "LMS": ("sample_lms", {}),
    "Heun": ("sample_heun", {}),
    "DPM2": ("sample_dpm_2", {"scheduler": "karras", "discard_next_to_last_sigma": True}),
    "DPM2 a": ("sample_dpm_2_ancestral", {"scheduler": "karras", "discard_next_to_last_sigma": True,
                                          "uses_ensd": True}),
    "Restart": (None, {"scheduler": "karras"}),
}
LABELS = {"karras": "Karras", "exponential": "Exponential"}


def a1111_schedule(label, n, wrap, sigma_min, sigma_max, sdxl=False):
    """A1111's sd_schedulers functions, over k-diffusion's model wrapper."""
    sampling, _ = kdiffusion()
    if label == "Uniform":
        return wrap.get_sigmas(n)
    if label == "Karras":
        return sampling.get_sigmas_karras(n=n, sigma_min=sigma_min, sigma_max=sigma_max, rho=7.0)
    if label == "Exponential":
        return sampling.get_sigmas_exponential(n=n, sigma_min=sigma_min, sigma_max=sigma_max)
    if label == "Polyexponential":
        return sampling.get_sigmas_polyexponential(n=n, sigma_min=sigma_min, sigma_max=sigma_max, rho=1.0)
    if label in ("SGM Uniform", "Normal"):
        start = wrap.sigma_to_t(torch.tensor(sigma_max))
        end = wrap.sigma_to_t(torch.tensor(sigma_min))
        ts = torch.linspace(start, end, n + 1)[:-1] if label == "SGM Uniform" else torch.linspace(start, end, n)
        return torch.FloatTensor([float(wrap.t_to_sigma(t)) for t in ts] + [0.0])
    if label == "KL Optimal":  # float32 torch arithmetic, as A1111 (tan near pi/2 makes it matter at ZTSNR)
        a_min, a_max = torch.arctan(torch.tensor(sigma_min)), torch.arctan(torch.tensor(sigma_max))
        return torch.stack([torch.tan(torch.tensor(i / n) * a_min + torch.tensor(1 - i / n) * a_max)
                            for i in range(n + 1)])
    if label == "Align Your Steps":
        table = ([14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029] if sdxl else
                 [14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029])
        if n == len(table):
            return torch.FloatTensor(table + [0.0])
        ys = np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(table)), np.log(table[::-1]))
        return torch.FloatTensor(list(np.exp(ys)[::-1]) + [0.0])
    if label == "Simple":
        ss = len(wrap.sigmas) / n
        return torch.FloatTensor([float(wrap.sigmas[-(1 + int(x * ss))]) for x in range(n)] + [0.0])
    if label == "DDIM":
        ss = max(len(wrap.sigmas) // n, 1)
        return torch.FloatTensor([float(wrap.sigmas[x]) for x in range(1, len(wrap.sigmas), ss)][::-1] + [0.0])
    if label == "Beta":
        from scipy import stats

        ts = [stats.beta.ppf(x, 0.6, 0.6) for x in 1 - np.linspace(0, 1, n)]
        return torch.FloatTensor([sigma_min + x * (sigma_max - sigma_min) for x in ts] + [0.0])
    raise KeyError(label)


def a1111_sigmas(sampler, steps, wrap, schedule_type="Automatic", sdxl=False):
    """A1111's KDiffusionSampler.get_sigmas for ``sampler`` and schedule type (the model's own sigma_min/max)."""
    _, options = A1111_SAMPLERS[sampler]
    discard = options.get("discard_next_to_last_sigma", False)
    n = steps + (1 if discard else 0)
    label = schedule_type
    if label == "Automatic":
        label = LABELS.get(options.get("scheduler"))
    if label is None:
        sigmas = wrap.get_sigmas(n)
    else:
        sigmas = a1111_schedule(label, n, wrap, wrap.sigmas[0].item(), wrap.sigmas[-1].item(), sdxl)
    if discard:
        sigmas = torch.cat([sigmas[:-2], sigmas[-1:]])
    return sigmas


# -- A1111's noise and CFG ---------------------------------------------------------------------------------------

class A1111ImageRNG:
    """rng.ImageRNG with the CPU source: per-image CPU generators, ENSD re-seed after the first draw."""

    def __init__(self, shape, seeds, ensd=0):
        self.shape, self.seeds, self.ensd = shape, seeds, ensd
        self.generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
        self.first = True

    def next(self):
        xs = torch.stack([torch.randn(self.shape, generator=g) for g in self.generators])
        if self.first:
            self.first = False
            if self.ensd:
                self.generators = [torch.Generator("cpu").manual_seed(s + self.ensd) for s in self.seeds]
        return xs


class TorchHijack:
    """A1111 replaces ``torch`` inside k-diffusion's sampling module so every randn_like draws from ImageRNG."""

    def __init__(self, rng):
        self.rng = rng

    def __getattr__(self, item):
        if item == "randn_like":
            return lambda x: self.rng.next()
        return getattr(torch, item)


def cfg_denoiser(wrap, cond, uncond, scale):
    """A1111's CFGDenoiser for one image: one batched call, then uncond + (cond - uncond) * scale on denoised."""

    def model(x, sigma, **_):
        x_in = torch.cat([x, x])
        sigma_in = torch.cat([sigma, sigma])
        out = wrap(x_in, sigma_in, cond=torch.cat([cond, uncond]))
        denoised_cond, denoised_uncond = out.chunk(2)
        return denoised_uncond + (denoised_cond - denoised_uncond) * scale

    return model


def unet_apply_model(unet):
    """LDM's apply_model(x, t, cond) for a diffusers UNet (SD1: cross-attention only)."""

    def apply_model(x, t, cond=None, **_):
        return unet(x, t, encoder_hidden_states=cond, return_dict=False)[0]

    return apply_model


def a1111_ddim(model_eps, x, timesteps, alphas_cumprod, rng_next, eta=0.0):
    """sd_samplers_timesteps_impl.ddim as A1111 >= 1.6 runs it: len(timesteps) - 1 evaluations, high to low."""
    alphas = alphas_cumprod[timesteps]
    alphas_prev = alphas_cumprod[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].to(torch.float64)
    sqrt_one_minus_alphas = torch.sqrt(1 - alphas)
    sigmas = eta * np.sqrt((1 - alphas_prev.numpy()) / (1 - alphas.double().numpy())
                           * (1 - alphas.double().numpy() / alphas_prev.numpy()))
    s_x = x.new_ones((x.shape[0], 1, 1, 1))
    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t = model_eps(x, timesteps[index].item() * x.new_ones([x.shape[0]]))
        a_t = alphas[index].item() * s_x
        a_prev = alphas_prev[index].item() * s_x
        sigma_t = float(sigmas[index]) * s_x
        sqrt_one_minus_at = sqrt_one_minus_alphas[index].item() * s_x
        pred_x0 = (x - sqrt_one_minus_at * e_t) / a_t.sqrt()
        dir_xt = (1. - a_prev - sigma_t ** 2).sqrt() * e_t
        noise = sigma_t * rng_next()
        x = a_prev.sqrt() * pred_x0 + dir_xt + noise
    return x


def a1111_plms(model_eps, x, timesteps, alphas_cumprod):
    """sd_samplers_timesteps_impl.plms: a pseudo improved-Euler first step, then Adams-Bashforth up to order 4."""
    alphas = alphas_cumprod[timesteps]
    alphas_prev = alphas_cumprod[torch.nn.functional.pad(timesteps[:-1], pad=(1, 0))].to(torch.float64)
    sqrt_one_minus_alphas = torch.sqrt(1 - alphas)
    s_x = x.new_ones((x.shape[0], 1, 1, 1))
    s_in = x.new_ones([x.shape[0]])
    old_eps = []

    def get_x_prev_and_pred_x0(e_t, index):
        a_t = alphas[index].item() * s_x
        a_prev = alphas_prev[index].item() * s_x
        sqrt_one_minus_at = sqrt_one_minus_alphas[index].item() * s_x
        pred_x0 = (x - sqrt_one_minus_at * e_t) / a_t.sqrt()
        return a_prev.sqrt() * pred_x0 + (1. - a_prev).sqrt() * e_t

    for i in range(len(timesteps) - 1):
        index = len(timesteps) - 1 - i
        e_t = model_eps(x, timesteps[index].item() * s_in)
        if len(old_eps) == 0:
            x_prev = get_x_prev_and_pred_x0(e_t, index)
            e_t_next = model_eps(x_prev, timesteps[max(index - 1, 0)].item() * s_in)
            e_t_prime = (e_t + e_t_next) / 2
        elif len(old_eps) == 1:
            e_t_prime = (3 * e_t - old_eps[-1]) / 2
        elif len(old_eps) == 2:
            e_t_prime = (23 * e_t - 16 * old_eps[-1] + 5 * old_eps[-2]) / 12
        else:
            e_t_prime = (55 * e_t - 59 * old_eps[-1] + 37 * old_eps[-2] - 9 * old_eps[-3]) / 24
        x_prev = get_x_prev_and_pred_x0(e_t_prime, index)
        old_eps.append(e_t)
        if len(old_eps) >= 4:
            old_eps.pop(0)
        x = x_prev
    return x


def reference_latents(runner, sampler, prompt, negative, seed, steps, cfg, size, ensd=0, schedule="Automatic",
                      v=False):
    """A1111's final latents for a txt2img run on ``runner``'s UNet with ``runner``'s conditioning (CPU RNG).

    k-diffusion's sampler on A1111's sigmas with A1111's per-image generators (and ENSD) behind its randn_like and
    the Brownian tree seeded with the image seed; A1111's own DDIM/PLMS for those two.
    """
    sampling, _ = kdiffusion()
    unet = runner.pipeline.unet
    emb = runner.encoder.encode(prompt, negative)
    cond, uncond = emb["prompt_embeds"], emb["negative_prompt_embeds"]
    acp = a1111_alphas_cumprod()
    latent = size // runner.pipeline.vae_scale_factor
    rng = A1111ImageRNG((4, latent, latent), [seed], ensd)
    if sampler in ("DDIM", "PLMS"):
        grid = torch.clip(torch.tensor(list(range(0, 1000, 1000 // steps))) + 1, 0, 999)

        def eps(x, t):
            out = unet(torch.cat([x, x]), t, encoder_hidden_states=torch.cat([cond, uncond]), return_dict=False)[0]
            c, u = out.chunk(2)
            return u + (c - u) * cfg

        with torch.no_grad():
            if sampler == "PLMS":
                return a1111_plms(eps, rng.next(), grid, acp)
            return a1111_ddim(eps, rng.next(), grid, acp, rng.next)
    wrap = compvis(acp, v=v, apply_model=unet_apply_model(unet))
    sampling.torch = TorchHijack(rng)  # what A1111 does to route k-diffusion's randn_like to its generators
    if sampler == "DPM fast":  # A1111: the model's sigma_min/max, n = steps, eta = its eta_ancestral (1.0)
        try:
            x = rng.next() * wrap.get_sigmas(steps)[0]
            with torch.no_grad():
                return sampling.sample_dpm_fast(cfg_denoiser(wrap, cond, uncond, cfg), x, wrap.sigmas[0].item(),
                                                wrap.sigmas[-1].item(), steps, disable=True, eta=1.0)
        finally:
            sampling.torch = torch
    func, options = A1111_SAMPLERS[sampler]
    sigmas = a1111_sigmas(sampler, steps, wrap, schedule)
    try:
        x = rng.next() * sigmas[0]
        kwargs = {}
        if options.get("brownian_noise"):
            kwargs["noise_sampler"] = sampling.BrownianTreeNoiseSampler(x, sigmas[sigmas > 0].min(), sigmas.max(),
                                                                        seed=[seed])
        if "solver_type" in options:
            kwargs["solver_type"] = options["solver_type"]
        with torch.no_grad():
            return getattr(sampling, func)(cfg_denoiser(wrap, cond, uncond, cfg), x, sigmas, disable=True, **kwargs)
    finally:
        sampling.torch = torch
