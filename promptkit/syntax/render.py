"""Generators: the shared tree back to text in any dialect, with the same effective weights.

Rendering in the prompt's own dialect is the lossless source (``Prompt.render()``). Rendering in another
dialect flattens emphasis into explicit weights (``(x:1.21)``, ``1.21::x::``, ``(x)1.21``), because nesting
rules differ between dialects (ComfyUI's ``(x:w)`` does not multiply; NovelAI's braces are 1.05).
What a target cannot express raises :class:`ConversionError` naming it; nothing is dropped silently.
"""

from __future__ import annotations

import math
import re

from .ast import And, Blend, Break, Embedding, ExtraNetwork, Separator, Swap, Text
from .dialects import canonical_dialect
from .errors import ConversionError
from .normalize import escape_a1111
from .prompt import Prompt

_COMFY_ESCAPE = re.compile(r"([()])")
_NAI_ESCAPE = re.compile(r"([\\{}\[\]():])")
_NAI_BOUNDARY = frozenset(" \t\n,{}[]:")
_COMPEL_ESCAPE = re.compile(r'([()"])')
_COMPEL_KEYWORD = re.compile(r"[A-Za-z0-9_-]+")


# Syntax only A1111/Forge reads, and what to tell a user who converts it elsewhere.
_A1111_ONLY = {
    Break: "{target} has no BREAK; split the prompt into separately encoded parts (ComfyUI: ConditioningConcat)",
    And: "{target} has no AND (composable diffusion); ComfyUI does this with ConditioningCombine",
    ExtraNetwork: "{target} cannot load {raw} from the prompt; load the network in your pipeline instead",
}


def format_weight(weight: float) -> str:
    """A weight as people write it, exact to 1e-6: ``1.21``, ``0.5``, ``2``."""
    text = f"{round(weight, 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_RE_KEYWORD = re.compile(r"\b(BREAK|AND)\b")


def _escape(text: str, dialect: str) -> str:
    if dialect == "a1111":
        # A1111 always reads uppercase BREAK/AND as keywords; CLIP lowercases text anyway, so the literal
        # words survive as "break"/"and" with the same tokens.
        return escape_a1111(_RE_KEYWORD.sub(lambda m: m.group().lower(), text))
    if dialect == "comfy":
        return _COMFY_ESCAPE.sub(r"\\\1", text)
    if dialect == "novelai":
        return _NAI_ESCAPE.sub(r"\\\1", text)
    return text  # compel: escaped per run, where the context is known (_compel_text)


_COMPEL_SYNTAX = '()",.+-='


def _compel_text(text: str, in_group: bool) -> str:
    """``text`` written so that compel 2.5.1 reads exactly these characters as text.

    compel unescapes only ``\\(``, ``\\)`` and ``\\"``; a ``+`` or ``-`` right after a word ends it as a
    weight unless a word character follows (outside a group a space in front makes it a word of its own;
    the space changes no CLIP token); inside ``( )`` a sign that ends a word, and ``=``, cannot be text.
    """
    if "\x0b" in text or "\x0c" in text:
        raise ConversionError("compel's parser rejects a vertical tab or form feed; replace it with a space")
    if "\\" in text and ("\\(" in text or "\\)" in text or '\\"' in text):
        raise ConversionError(f"compel cannot write a backslash before ( ) or \" as text: {text!r}")
    out: list[str] = []
    n = len(text)
    for i, c in enumerate(text):
        if c in '()"':
            out.append("\\" + c)
            continue
        if c in "+-":
            follows = text[i + 1] if i + 1 < n else ""
            ends_word = not follows or follows.isspace() or follows in _COMPEL_SYNTAX
            prev = out[-1][-1:] if out else ""
            after_word = bool(prev) and not prev.isspace() and (prev not in _COMPEL_SYNTAX or (
                len(out[-1]) == 2 and out[-1][0] == "\\"))
            if ends_word and after_word:
                if in_group:
                    raise ConversionError(f"compel reads a {c!r} that ends a word as a weight; it cannot be text "
                                          f"inside a weighted group: {text.strip()!r}")
                out.append(" ")
            elif ends_word and in_group and not prev:
                raise ConversionError(f"compel cannot write a lone {c!r} inside a weighted group: {text.strip()!r}")
        elif c == "=" and in_group:
            raise ConversionError(f"compel cannot write '=' inside a weighted group: {text.strip()!r}")
        out.append(c)
    return "".join(out)


def _compel_lora(node: ExtraNetwork) -> str:
    if node.kind != "lora" or not _COMPEL_KEYWORD.fullmatch(node.name):
        raise ConversionError(f"compel cannot load {node.raw}: it takes withLora(name, weight) with a name of "
                              "letters, digits, _ and -")
    return f"withLora({node.name}, {format_weight(node.multiplier)})"


def _a1111_network(node: ExtraNetwork, source_dialect: str) -> str:
    if source_dialect == "a1111":
        return node.raw
    return f"<lora:{node.name}:{format_weight(node.multiplier)}>"


def _wrap(body: str, weight: float, dialect: str) -> str:
    if not math.isfinite(weight):
        raise ConversionError(f"the weight of {body[:40]!r} overflows (thousands of nested brackets); "
                              f"{dialect} has no number for it: remove most of the brackets")
    w = format_weight(weight)
    if dialect in ("a1111", "comfy"):
        return f"({body}:{w})"
    if dialect == "novelai":
        # "...2013::" would read as a new weight: a space before the closing "::" keeps the number text.
        pad = " " if body[-1:].isdigit() or body.endswith(".") else ""
        return f"{w}::{body}{pad}::"
    if weight < 0:
        raise ConversionError(f"compel cannot express the negative weight {w}")
    return f"({body}){w}"


def render(prompt: Prompt, dialect: str) -> str:
    """Write ``prompt`` in ``dialect`` with the same effective weights."""
    target = canonical_dialect(dialect)
    if target == prompt.dialect:
        return prompt.render()
    if target != "a1111" and prompt.has_schedules:
        raise ConversionError(f"{target} has no prompt editing or alternation ([a:b:when], [a|b]); "
                              "resolve them per step first with promptkit.schedules()")
    for node in prompt.walk():
        if type(node) is Blend:
            raise ConversionError(f"only compel can express .{node.op}(): {node.raw}")
        if type(node) is Swap:
            raise ConversionError(f"only compel can express a cross-attention .swap(): "
                                  f"{prompt.source[node.start:node.end]}")
    out: list[str] = []
    # compel reads digits right after ")1.2" as part of the weight: keep the next fragment apart with a space
    # (fragments are tokenized separately, so the space changes no token).
    guard_compel_number = False
    run: list[str] = []  # text of the current weighted run
    run_weight = 1.0

    def flush() -> None:
        nonlocal guard_compel_number
        if not run:
            return
        body = "".join(run)
        run.clear()
        plain = format_weight(run_weight) == "1"
        if target == "compel":
            body = _compel_text(body, in_group=not plain)
            if guard_compel_number and (body[:1].isalnum() or body[:1] == "."):
                out.append(" ")
            guard_compel_number = False
        if plain:
            out.append(body)
            return
        stripped = body.strip()
        lead = body[: len(body) - len(body.lstrip())]
        trail = body[len(body.rstrip()):]
        if stripped and target == "novelai" and not lead and out and out[-1][-1:] not in _NAI_BOUNDARY:
            lead = " "  # NovelAI reads "1.2::" as a weight only where a tag starts
        if stripped and target == "compel" and not lead and out and not out[-1][-1:].isspace():
            lead = " "  # a word runs on into "(...)1.2" at compel's top level (it takes any non-space)
        out.append(lead + (_wrap(stripped, run_weight, target) if stripped else "") + trail)
        guard_compel_number = target == "compel" and bool(stripped) and not trail

    for node, weight in prompt.leaf_weights():
        t = type(node)
        if t is Text:
            if node.kind == Text.BACKSLASH and prompt.dialect == "a1111":
                continue  # A1111 drops a lone backslash
            piece = _escape(node.value, target)
        elif t is Separator:
            piece = node.raw
        elif t is ExtraNetwork and target in ("a1111", "compel"):
            flush()
            out.append(_a1111_network(node, prompt.dialect) if target == "a1111" else _compel_lora(node))
            guard_compel_number = False
            continue
        elif t in _A1111_ONLY:
            if target != "a1111":
                raise ConversionError(_A1111_ONLY[t].format(target=target, raw=node.raw))
            flush()
            out.append(node.raw)
            continue
        elif t is Embedding:
            piece = f"embedding:{node.name}" if target == "comfy" else node.name
        else:  # pragma: no cover
            raise ConversionError(f"cannot convert {type(node).__name__}")
        if run and weight != run_weight:
            flush()
        run_weight = weight
        run.append(piece)
    flush()
    return "".join(out)


def convert(text: str, read: str = "a1111", write: str = "compel", strict: bool = False) -> str:
    from .parser import parse

    return render(parse(text, read, strict=strict), write)
