"""How token weights change text-encoder outputs, one function per reference system.

All functions take ``z`` (chunks, 77, C) of unweighted encoder outputs and ``w`` (chunks, 77) weights that are
1.0 on BOS/EOS/padding (shared/reference/embedding-weighting.md, sections 1.3, 2.3 and 3.3). compel's
down-weighting and blends need more than one encoding per chunk: ``compel_mode.py``.
"""

from __future__ import annotations

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
