"""Noise exactly as A1111 makes it: RNG sources, per-image seeds, variation seeds, seed resize, ENSD, SDE noise.

- RNG source (infotext ``RNG``): ``"gpu"`` (a CUDA ``torch.Generator``; A1111's default), ``"cpu"`` (a CPU
  ``torch.Generator``, the noise moved to the device), ``"nv"`` (:class:`PhiloxGenerator`, NVIDIA's Philox4x32-10
  counter-based generator with a Box-Muller transform, run on the CPU; written to give what CUDA ``torch.randn``
  gives for the same seed on any machine).
- :class:`ImageNoise` is A1111's per-image RNG: image ``i`` of a batch has seed ``seed + i``; its first draw is the
  starting noise (variation seed by slerp, "Seed resize from" by a centred paste); later draws (ancestral
  samplers' step noise) continue the same generator, re-seeded with ``seed + ENSD`` after the first draw when
  ENSD ("eta noise seed delta") is set.
- :class:`BrownianNoise` is k-diffusion's Brownian-tree noise for the SDE samplers, one tree per image seed, as
  A1111 seeds it (the image seeds, on the latents' device).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch

RNG_SOURCES = ("gpu", "cpu", "nv")

# Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): round multipliers and
# the Weyl sequence that bumps the key between rounds.
_PHILOX_M0, _PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)
# Box-Muller on 32-bit integers: u = x * 2**-32 + 2**-33, angle = y * 2**-32 * 2pi + half a step.
_TWO_POW32_INV = np.float32(2.3283064e-10)
_TWO_POW32_INV_2PI = np.float32(2.3283064e-10 * 6.2831855)


class NoiseError(ValueError):
    """An RNG setting that cannot be honoured here (e.g. the GPU source without a CUDA device)."""


def philox4x32_10(counter: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Ten Philox rounds over columns: ``counter`` (4, n) and ``key`` (2, n) uint32 -> (4, n) uint32."""
    c0, c1, c2, c3 = (counter[i].astype(np.uint64) for i in range(4))
    k0, k1 = key[0].astype(np.uint64), key[1].astype(np.uint64)
    for round_ in range(10):
        p0 = c0 * np.uint64(_PHILOX_M0)
        p1 = c2 * np.uint64(_PHILOX_M1)
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & _MASK32, (p0 >> np.uint64(32)) ^ c3 ^ k1,
                          p0 & _MASK32)
        if round_ < 9:
            k0 = (k0 + np.uint64(_PHILOX_W0)) & _MASK32
            k1 = (k1 + np.uint64(_PHILOX_W1)) & _MASK32
    return np.stack([c0, c1, c2, c3]).astype(np.uint32)


class PhiloxGenerator:
    """A1111's "NV" source: CUDA's Philox normal stream computed on the CPU.

    Each call is one counter block: ``counter = (offset, 0, i, 0)`` for element ``i``, ``key`` = the 64-bit seed;
    the first two 32-bit outputs of each block go through Box-Muller (the sine branch). ``offset`` counts calls.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.offset = 0

    def randn(self, shape: Sequence[int]) -> np.ndarray:
        n = int(np.prod(shape))
        counter = np.zeros((4, n), dtype=np.uint32)
        counter[0] = self.offset
        counter[2] = np.arange(n, dtype=np.uint32)
        self.offset += 1
        seed = np.uint64(self.seed & 0xFFFFFFFFFFFFFFFF)
        key = np.empty((2, n), dtype=np.uint32)
        key[0] = np.uint32(seed & _MASK32)
        key[1] = np.uint32(seed >> np.uint64(32))
        bits = philox4x32_10(counter, key)
        u = bits[0] * _TWO_POW32_INV + _TWO_POW32_INV / 2  # float64, as A1111 computes it
        angle = bits[1] * _TWO_POW32_INV_2PI + _TWO_POW32_INV_2PI / 2
        return (np.sqrt(-2.0 * np.log(u)) * np.sin(angle)).astype(np.float32).reshape(tuple(shape))


class TorchSource:
    """A torch.Generator on the CPU or a CUDA device, seeded once; draws float32 noise onto ``device``."""

    def __init__(self, seed: int, device: torch.device, on_gpu: bool) -> None:
        self.device = device
        self.draw_device = device if on_gpu else torch.device("cpu")
        self.generator = torch.Generator(self.draw_device).manual_seed(int(seed))

    def randn(self, shape: Sequence[int]) -> torch.Tensor:
        x = torch.randn(tuple(shape), generator=self.generator, device=self.draw_device, dtype=torch.float32)
        return x.to(self.device)


class NvSource:
    def __init__(self, seed: int, device: torch.device) -> None:
        self.device = device
        self.generator = PhiloxGenerator(seed)

    def randn(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.from_numpy(self.generator.randn(shape)).to(self.device)


def check_rng(rng: str, device: torch.device) -> str:
    """Validate an RNG source name for ``device`` (case-insensitive, A1111's "GPU"/"CPU"/"NV" too)."""
    source = str(rng).strip().lower()
    if source not in RNG_SOURCES:
        raise NoiseError(f"unknown RNG source {rng!r}; use one of gpu, cpu, nv (A1111's RNG setting)")
    if source == "gpu" and torch.device(device).type != "cuda":
        raise NoiseError(f"rng='gpu' draws from a CUDA generator, and the model is on {torch.device(device).type}; "
                         "use rng='nv' (CUDA's Philox generator computed on the CPU) to reproduce GPU seeds here, "
                         "or rng='cpu'")
    return source


def make_source(rng: str, seed: int, device: torch.device) -> TorchSource | NvSource:
    """A seeded noise source of kind ``rng`` that puts its draws on ``device``."""
    source = check_rng(rng, device)
    if source == "nv":
        return NvSource(seed, device)
    return TorchSource(seed, device, on_gpu=source == "gpu")


def slerp(strength: float, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """A1111's variation-seed blend of two (C, H, W) noises: spherical along dim 1, linear when nearly parallel.

    The nearly-parallel fallback is ``low * strength + high * (1 - strength)``, as A1111 has it.
    """
    low_norm = low / torch.norm(low, dim=1, keepdim=True)
    high_norm = high / torch.norm(high, dim=1, keepdim=True)
    dot = (low_norm * high_norm).sum(1)
    if dot.mean() > 0.9995:
        return low * strength + high * (1 - strength)
    omega = torch.acos(dot)
    so = torch.sin(omega)
    return (torch.sin((1.0 - strength) * omega) / so).unsqueeze(1) * low + \
        (torch.sin(strength * omega) / so).unsqueeze(1) * high


class ImageNoise:
    """A1111's ``ImageRNG``: the starting noise of a batch and the step noise that follows it.

    ``shape`` is one image's latent shape (C, H, W); ``seeds`` one seed per image; ``subseeds`` likewise for the
    variation seed; ``seed_resize_from`` the (width, height) in pixels the seed was first used at, and
    ``latent_factor`` the VAE's downscale (8 on real checkpoints).
    """

    def __init__(self, shape: Sequence[int], seeds: Sequence[int], rng: str = "cpu",
                 device: torch.device | str = "cpu", subseeds: Sequence[int] | None = None,
                 subseed_strength: float = 0.0, seed_resize_from: tuple[int, int] | None = None,
                 ensd: int = 0, latent_factor: int = 8) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.seeds = [int(s) for s in seeds]
        self.device = torch.device(device)
        self.rng = check_rng(rng, self.device)
        self.subseeds = None if subseeds is None else [int(s) for s in subseeds]
        self.subseed_strength = float(subseed_strength)
        self.seed_resize_from = seed_resize_from
        self.ensd = int(ensd or 0)
        self.latent_factor = latent_factor
        self.generators = [make_source(self.rng, s, self.device) for s in self.seeds]
        self.draws = 0

    def _fresh(self, seed: int, shape: Sequence[int]) -> torch.Tensor:
        return make_source(self.rng, seed, self.device).randn(shape)

    def first(self) -> torch.Tensor:
        """The starting noise (B, C, H, W), float32, before it is scaled by the first sigma."""
        shape = self.shape
        if self.seed_resize_from and all(v > 0 for v in self.seed_resize_from):
            width, height = self.seed_resize_from
            noise_shape = (shape[0], int(height) // self.latent_factor, int(width) // self.latent_factor)
        else:
            noise_shape = shape
        images = []
        for i, (seed, generator) in enumerate(zip(self.seeds, self.generators)):
            subnoise = None
            if self.subseeds is not None and self.subseed_strength != 0:
                subseed = self.subseeds[i] if i < len(self.subseeds) else 0
                subnoise = self._fresh(subseed, noise_shape)
            noise = self._fresh(seed, noise_shape) if noise_shape != shape else generator.randn(shape)
            if subnoise is not None:
                noise = slerp(self.subseed_strength, noise, subnoise)
            if noise_shape != shape:
                noise = paste_centred(noise, generator.randn(shape))
            images.append(noise)
        if self.ensd:
            self.generators = [make_source(self.rng, seed + self.ensd, self.device) for seed in self.seeds]
        self.draws += 1
        return torch.stack(images)

    def next(self) -> torch.Tensor:
        """The next draw of every image's generator: the first call gives :meth:`first`."""
        if self.draws == 0:
            return self.first()
        self.draws += 1
        return torch.stack([g.randn(self.shape) for g in self.generators])


def paste_centred(noise: torch.Tensor, canvas: torch.Tensor) -> torch.Tensor:
    """Put (C, h, w) ``noise`` in the middle of (C, H, W) ``canvas`` (cropping it when it is larger)."""
    dx = (canvas.shape[2] - noise.shape[2]) // 2
    dy = (canvas.shape[1] - noise.shape[1]) // 2
    w = noise.shape[2] if dx >= 0 else noise.shape[2] + 2 * dx
    h = noise.shape[1] if dy >= 0 else noise.shape[1] + 2 * dy
    tx, ty = max(dx, 0), max(dy, 0)
    sx, sy = max(-dx, 0), max(-dy, 0)
    canvas[:, ty:ty + h, tx:tx + w] = noise[:, sy:sy + h, sx:sx + w]
    return canvas


def require_torchsde():
    """``torchsde`` (the SDE samplers' Brownian tree), or a one-line error naming what needs it."""
    try:
        import torchsde
    except ImportError as exc:  # pragma: no cover - torchsde ships with the diffusers extra
        raise NoiseError("the SDE samplers (DPM++ SDE, DPM++ 2M SDE, DPM++ 3M SDE) need torchsde for their "
                         "Brownian-tree noise, which is not installed: pip install 'promptkit[diffusers]' "
                         "(or pip install torchsde)") from exc
    return torchsde


class BrownianNoise:
    """k-diffusion's ``BrownianTreeNoiseSampler`` with one ``torchsde`` Brownian tree per image seed.

    Called with (sigma, sigma_next) it returns the tree's increment over that interval divided by its standard
    deviation, so a unit normal per pixel that is consistent across step sizes.
    """

    def __init__(self, x: torch.Tensor, sigma_min: torch.Tensor, sigma_max: torch.Tensor,
                 seeds: Sequence[int]) -> None:
        torchsde = require_torchsde()
        t0, t1 = torch.as_tensor(sigma_min), torch.as_tensor(sigma_max)
        t0, t1, self.sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        w0 = torch.zeros_like(x)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.trees = [torchsde.BrownianTree(t0, w0, t1, entropy=int(s)) for s in seeds]

    def __call__(self, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
        t0, t1 = torch.as_tensor(sigma), torch.as_tensor(sigma_next)
        lo, hi, sign = (t0, t1, 1) if t0 < t1 else (t1, t0, -1)
        with warnings.catch_warnings():  # torchsde warns when float rounding puts a query a hair outside its range
            warnings.simplefilter("ignore")
            w = torch.stack([tree(lo, hi) for tree in self.trees]) * (self.sign * sign)
        return w / (t1 - t0).abs().sqrt()
