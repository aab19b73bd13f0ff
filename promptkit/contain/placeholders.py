"""Finding the spans of a prompt that are not prompt text: container placeholders and template syntax.

Template syntax is sd-dynamic-prompts' (docs/SYNTAX.md): variants ``{a|b}``, ``{2$$a|b|c}``, ``{1-2$$ and $$a|b}``,
weighted options ``{0.5::a|b}``; wildcards ``__name__`` (``__colors/*__``); variables ``${name=value}``, ``${name}``.
A variant is opaque to the prompt around it; each of its options is a prompt fragment of its own (an option
segment). Full expansion is its own stage; here the job is only that lint never reads this syntax as prompt text.
A ``{...}`` without a top-level ``|`` is not a variant (NovelAI emphasis, a style's ``{prompt}``): left alone.
"""

from __future__ import annotations

import re

from .document import Placeholder

WILDCARD = re.compile(r"__(?=[^\s_])[^\s,|{}()\[\]<>_]+(?:_[^\s,|{}()\[\]<>_]+)*__")
_COUNT_PREFIX = re.compile(r"\s*(?:\d*\s*-?\s*\d*)\$\$(?:(?:(?!\$\$).)*\$\$)?", re.S)
_WEIGHT_PREFIX = re.compile(r"\s*\d+(?:\.\d*)?::")
_EDGE = " \t\r\n,"


def fixed_placeholders(text: str, names: tuple[str, ...], kind: str) -> list[Placeholder]:
    """Every occurrence of the literal placeholders ``names`` (``{prompt}``, ``[name]`` ...)."""
    out = []
    for name in names:
        pos = text.find(name)
        while pos != -1:
            out.append(Placeholder(pos, pos + len(name), kind, name))
            pos = text.find(name, pos + len(name))
    return out


_BRACES = re.compile(r"\\.|[{}]", re.S)
_NESTING = re.compile(r"\\.|[{}\[\]()|]", re.S)
_INTERESTING = re.compile(r"\\.|\$\{|\{|__|<ppp:", re.S)


def _brace_pairs(text: str, start: int, end: int) -> dict[int, int]:
    """Where each ``{`` of ``text[start:end]`` closes (nesting and ``\\`` escapes honoured), in one pass."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACES.finditer(text, start, end):
        c = m.group()
        if c == "{":
            stack.append(m.start())
        elif c == "}" and stack:
            pairs[stack.pop()] = m.start()
    return pairs


def _top_level_bars(text: str, start: int, end: int) -> list[int]:
    bars, depth = [], 0
    for m in _NESTING.finditer(text, start, end):
        c = m.group()
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth = max(0, depth - 1)
        elif c == "|" and depth == 0:
            bars.append(m.start())
    return bars


def template_syntax(text: str, start: int = 0, end: int | None = None, first: bool = False
                    ) -> tuple[list[Placeholder], list[tuple[int, int, int]]]:
    """Placeholders of dynamic-prompts syntax in ``text[start:end]``, and the (start, end, variant start) of the
    options of each top-level variant (trimmed of spaces and commas at both ends; empty options left out).
    ``first``: stop at the first placeholder (is there any?)."""
    end = len(text) if end is None else end
    found: list[Placeholder] = []
    options: list[tuple[int, int, int]] = []
    pairs = _brace_pairs(text, start, end) if "{" in text[start:end] else {}
    i = start
    while i < end:
        if first and found:
            break
        m = _INTERESTING.search(text, i, end)
        if m is None:
            break
        i = m.start()
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "$" and text.startswith("${", i):
            close = pairs.get(i + 1, -1)
            if close != -1:
                found.append(Placeholder(i, close + 1, "variable", text[i + 2:close].split("=", 1)[0].strip()))
                i = close + 1
                continue
        if c == "{":
            close = pairs.get(i, -1)
            if close != -1:
                bars = _top_level_bars(text, i + 1, close)
                counted = _COUNT_PREFIX.match(text, i + 1, close)
                if bars or counted:
                    found.append(Placeholder(i, close + 1, "variant"))
                    opening = counted.end() if counted else i + 1
                    for s, e in zip([opening] + [b + 1 for b in bars], bars + [close]):
                        weight = _WEIGHT_PREFIX.match(text, s, e)
                        if weight:
                            s = weight.end()
                        while s < e and text[s] in _EDGE:
                            s += 1
                        while e > s and text[e - 1] in _EDGE:
                            e -= 1
                        if s < e:
                            options.append((s, e, i))
                    i = close + 1
                    continue
        if c == "<" and text.startswith("<ppp:", i):  # sd-webui-prompt-postprocessor commands
            close = text.find(">", i)
            if close != -1:
                found.append(Placeholder(i, close + 1, "ppp", text[i + 5:close].split(" ", 1)[0]))
                i = close + 1
                continue
        if c == "_" and text.startswith("__", i):
            m = WILDCARD.match(text, i, end)
            if m:
                found.append(Placeholder(m.start(), m.end(), "wildcard", m.group()[2:-2]))
                i = m.end()
                continue
        i += 1
    return found, options


def has_template_syntax(text: str) -> bool:
    """Whether the text holds dynamic-prompts syntax (a variant with ``|``, a wildcard or a variable)."""
    if "__" not in text and "{" not in text and "<ppp:" not in text:
        return False
    found, _ = template_syntax(text, first=True)
    return bool(found)


def merge(*groups: list[Placeholder]) -> list[Placeholder]:
    """Placeholders of several kinds in text order, dropping any that lies inside (or overlaps) an earlier one."""
    out: list[Placeholder] = []
    for p in sorted((p for g in groups for p in g), key=lambda p: (p.start, -p.end)):
        if out and p.start < out[-1].end:
            continue
        out.append(p)
    return out
