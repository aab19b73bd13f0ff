"""How token weights change text-encoder outputs, one function per reference system.

All functions take ``z`` (chunks, 77, C) of unweighted encoder outputs and ``w`` (chunks, 77) weights that are
1.0 on BOS/EOS/padding (shared/reference/embedding-weighting.md, sections 1.3, 2.3 and 3.3-3.4).
"""

from __future__ import annotations

import math

import torch

WEIGHTINGS = ("a1111", "a1111-no-norm", "comfy", "compel")


def a1111_original(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """A1111 "Original": multiply, then restore the mean of each chunk (batch size 1 per prompt)."""
    out = []
    for zc, wc in zip(z, w):
        before = zc.mean()
        zc = zc * wc[:, None]
        after = zc.mean()
        out.append(zc * (before / after))
    return torch.stack(out) if out else z


def a1111_no_norm(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """A1111 "No norm" (and sd_embed): plain multiply."""
    return z * w[..., None]


def lerp_from_empty(z: torch.Tensor, w: torch.Tensor, empty: torch.Tensor) -> torch.Tensor:
    """ComfyUI and compel: ``empty + (z - empty) * w`` where ``w != 1``; tokens of weight 1 are left untouched.

    ``empty`` is the encoding of the empty prompt (77, C), taken at the same position in every chunk.
    """
    weighted = empty[None] + (z - empty[None]) * w[..., None]
    return torch.where((w != 1.0)[..., None], weighted, z)


def compel_downweight_blend(base: torch.Tensor, without: list[tuple[float, torch.Tensor]]) -> torch.Tensor:
    """compel's extra step for weights below 1: blend with the encodings that cannot see each such fragment.

    ``z = (base + sum(t_i * z_without_i)) / (1 + sum(t_i))`` with ``t_i = tan((1 - max(w_i, 1e-5)) * pi / 2)``.
    """
    if not without:
        return base
    total = base.clone()
    coefficient = 1.0
    for weight, z_without in without:
        t = math.tan((1.0 - max(weight, 1e-5)) * math.pi / 2)
        total = total + t * z_without
        coefficient += t
    return total / coefficient
