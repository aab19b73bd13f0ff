"""Prompt dialects: each is a parser into the shared tree (and a renderer out of it, in ``render.py``)."""

from __future__ import annotations

DIALECTS = ("a1111", "comfy", "novelai", "compel")

_ALIASES = {
    "a1111": "a1111", "auto1111": "a1111", "automatic1111": "a1111", "forge": "a1111", "webui": "a1111",
    "comfy": "comfy", "comfyui": "comfy",
    "novelai": "novelai", "nai": "novelai",
    "compel": "compel", "invokeai": "compel",
}


def canonical_dialect(name: str) -> str:
    """Map a dialect name or alias (``forge``, ``comfyui``, ``nai``) to its canonical name."""
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; choose one of {', '.join(DIALECTS)}") from None
