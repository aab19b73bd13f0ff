"""promptkit: parse, lint, format, convert and encode prompts for tag-trained text-to-image models.

``import promptkit`` is cheap and never imports torch: the encoders and runners load their heavy
dependencies only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "parse", "convert", "schedules", "lint", "format", "Prompt", "Tag", "TagList", "SubPrompt",
    "PromptSyntaxError", "ConversionError", "expand", "count_expansions", "ExpansionError", "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from .linter import LintReport
    from .syntax import ConversionError, Prompt, PromptSyntaxError, SubPrompt, Tag, TagList, parse
    from .templates import ExpansionError, count_expansions, expand

_FROM_SYNTAX = frozenset({"parse", "Prompt", "Tag", "TagList", "SubPrompt", "PromptSyntaxError", "ConversionError"})


def __getattr__(name: str) -> Any:
    """The parser's names load on first use, so ``import promptkit.tags`` stays light (PEP 562)."""
    if name in _FROM_SYNTAX:
        from . import syntax

        value = getattr(syntax, name)
        globals()[name] = value
        return value
    if name in ("expand", "count_expansions", "ExpansionError"):
        from . import templates

        value = getattr(templates, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def convert(text: str, read: str = "a1111", write: str = "compel", strict: bool = False) -> str:
    """Rewrite ``text`` from dialect ``read`` into dialect ``write`` with the same effective weights."""
    from .syntax.render import convert as _convert

    return _convert(text, read=read, write=write, strict=strict)


def schedules(text: str, steps: int, hires_steps: int | None = None) -> list[tuple[int, str]]:
    """The per-step prompt texts A1111 derives from ``[a:b:when]`` and ``[a|b]`` (see ``syntax.schedule``)."""
    from .syntax.schedule import prompt_schedules

    return prompt_schedules(text, steps, hires_steps)


def lint(text: str, profile: str | None = None, **options: Any) -> "LintReport":
    """Lint one prompt against the bundled tag database and a model profile."""
    from .linter import lint_prompt

    return lint_prompt(text, profile=profile, **options)


def format(text: str, profile: str | None = None, **options: Any) -> str:  # noqa: A001 - public API name
    """Format a prompt: order tags by the profile template, normalize spacing, underscores and escapes."""
    from .linter.formatter import format_prompt

    return format_prompt(text, profile=profile, **options)
