"""Dynamic-prompts templates after parsing: wildcard collections and expansion into prompts.

``expand`` and ``count_expansions`` are the public entry points (also at ``promptkit.expand``); the tree
itself lives in ``promptkit.syntax.dynamic``.
"""

from __future__ import annotations

from .expand import MAX_PROMPTS, MODES, ExpansionError, Expander
from .wildcards import Wildcards, WildcardsArg

__all__ = ["expand", "count_expansions", "ExpansionError", "Expander", "Wildcards", "MAX_PROMPTS"]


def expand(template: str, *, wildcards: WildcardsArg = None, mode: str = "combinatorial",
           limit: int | None = None, seed: int | None = None) -> list[str]:
    """The prompts ``template`` makes, as ``dynamicprompts``' CombinatorialPromptGenerator lists them.

    ``wildcards``: a folder, a mapping name -> options, or None. ``mode``: ``combinatorial`` (every prompt,
    in the reference's order; ``limit`` keeps the first ones), ``random`` (``limit`` prompts, default 1,
    each a member of the combinatorial set, the same for the same ``seed``) or ``cyclical`` (each variant
    and wildcard steps through its own expansions). Raises :class:`ExpansionError` for a missing wildcard,
    a wildcard cycle, an undefined variable, a syntax error, or more than ``MAX_PROMPTS`` prompts without a
    limit.
    """
    if mode not in MODES:
        raise ExpansionError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    if limit is not None and limit < 0:
        raise ExpansionError(f"limit must be >= 0, not {limit}")
    return Expander(wildcards, seed=seed).expand(template, mode=mode, limit=limit)


def count_expansions(template: str, *, wildcards: WildcardsArg = None) -> int:
    """How many prompts ``expand(template)`` makes in combinatorial mode, without listing them."""
    return Expander(wildcards).count(template)
