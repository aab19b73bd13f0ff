"""Stage 1 of the data flow: text -> lossless tree (``parse``), and tree -> text (``render``/``convert``).

Names are loaded on first use (PEP 562), so importing one submodule (``syntax.normalize`` for the tag
database) does not build every dialect's scanner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .errors import ConversionError, PromptSyntaxError
    from .parser import parse
    from .prompt import Prompt, SubPrompt
    from .tag_list import Tag, TagList

__all__ = ["parse", "Prompt", "Tag", "TagList", "SubPrompt", "PromptSyntaxError", "ConversionError"]

_WHERE = {"parse": ".parser", "Prompt": ".prompt", "Tag": ".tag_list", "TagList": ".tag_list", "SubPrompt": ".prompt",
          "PromptSyntaxError": ".errors", "ConversionError": ".errors"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
