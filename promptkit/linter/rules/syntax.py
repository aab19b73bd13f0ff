"""Syntax rules (PK1xx): brackets, weights, colons, and syntax from the wrong dialect."""

from __future__ import annotations

import re
from typing import Iterable

from ...syntax.ast import Alternation, Group, Schedule, Text, render_source
from ...syntax.render import format_weight
from ..diagnostics import Diagnostic, Edit, Severity
from ..rule import LintContext, Rule, register

_CLOSER = {"(": ")", "[": "]", "{": "}"}


@register
class UnbalancedBracket(Rule):
    """A bracket without its partner.

    Why: A1111 applies an unclosed ``(`` or ``[`` to the whole rest of the prompt and reads a stray ``)`` as
    text, so the weights are not what the brackets suggest. Usually the parentheses belong to a tag such as
    ``kazusa (blue archive`` and should be escaped.

    Example: ``1girl, (smile, looking at viewer`` -> ``1girl, (smile), looking at viewer``.
    Fix (safe, stray closers only): escape the stray closer, ``)`` -> ``\\)`` (A1111 already reads it as text).
    """

    code = "PK101"
    name = "unbalanced-bracket"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "safe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        for node in ctx.prompt.walk():
            t = type(node)
            if t is Group and not node.closed and node.kind not in ("compel_word",):
                close = "::" if node.kind == "nai_weight" else _CLOSER.get(node.open[-1:], ")")
                yield self.diagnostic(
                    f"{node.open!r} is never closed: A1111 applies it to the rest of the prompt",
                    node.start, node.start + len(node.open),
                    suggestions=[f"close it with {close!r}", f"escape it as '\\{node.open}' if it belongs to a tag"])
            elif t is Text and node.kind == Text.STRAY and node.raw in (")", "]", "}"):
                yield self.diagnostic(
                    f"{node.raw!r} closes nothing and is read as text", node.start, node.end,
                    fix=self.fix(f"escape it as '\\{node.raw}'", Edit(node.start, node.end, "\\" + node.raw)))


@register
class AmbiguousColon(Rule):
    """A ``:`` inside parentheses that is not a weight.

    Why: A1111 reads only ``:<number>)`` at the end of a group as a weight. ``(smile: happy)`` is the text
    "smile: happy" at 1.1, and ``(a:b:1.2)`` weights the text "a:b"; either is rarely what was meant.

    Example: ``(smile: happy)`` -> ``(smile:1.2), happy``.
    """

    code = "PK102"
    name = "ambiguous-colon"
    category = "syntax"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        tag_spans = [(t.start, t.end, t) for t in ctx.tags]
        for node in ctx.prompt.walk():
            if type(node) is not Group or node.kind not in ("round", "weight"):
                continue
            for child in node.children:
                if type(child) is Text and child.kind == Text.COLON:
                    tag = next((t for s, e, t in tag_spans if s <= child.start < e), None)
                    if tag is not None and (tag.namespace or (ctx.db is not None and ctx.info(tag) is not None)):
                        continue  # re:zero, nier:automata, artist:name ... are tags
                    what = "before the weight" if node.kind == "weight" else "inside ( )"
                    yield self.diagnostic(
                        f"':' {what} is plain text here; A1111 reads only ':<number>)' as a weight",
                        child.start, child.end,
                        suggestions=["write a weight as (tag:1.2)", "escape it as '\\:' if it is part of a tag"])


@register
class WeightRange(Rule):
    """An effective weight outside the sane range of the profile.

    Why: weights above ~1.5 burn the concept into the image, above 2 they break it, and negative weights
    do not mean "not" (use the negative prompt). Nesting multiplies: ``(((x:1.5)))`` is 2.0.

    Example: ``(masterpiece:2.5)`` -> ``(masterpiece:1.2)``.
    """

    code = "PK103"
    name = "weight-out-of-range"
    category = "syntax"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        warn, error = ctx.profile.weight_warn, ctx.profile.weight_error
        for tag in ctx.tags:
            w = tag.weight
            if w < 0:
                yield self.diagnostic(f"{tag.text!r} has a negative weight ({format_weight(w)}); "
                                      "put unwanted things in the negative prompt", tag.start, tag.end,
                                      severity=Severity.ERROR)
            elif w > error:
                yield self.diagnostic(f"{tag.text!r} has weight {format_weight(w)} (above {format_weight(error)} "
                                      "breaks most images)", tag.start, tag.end, severity=Severity.ERROR)
            elif w > warn:
                yield self.diagnostic(f"{tag.text!r} has weight {format_weight(w)} (above {format_weight(warn)})",
                                      tag.start, tag.end)


@register
class EmptyGroup(Rule):
    """Brackets with nothing inside: ``()``, ``[]``, ``(:1.2)``.

    Why: they do nothing but make the prompt harder to read (and are often left over from editing).

    Example: ``1girl, (), smile`` -> ``1girl, , smile``. Fix (safe): remove the brackets.
    """

    code = "PK104"
    name = "empty-group"
    category = "syntax"
    severity = Severity.INFO
    fix_safety = "safe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        for node in ctx.prompt.walk():
            if type(node) in (Group, Schedule, Alternation) and getattr(node, "closed", True) and \
                    not render_source(node.children).strip() and getattr(node, "kind", "") != "compel_word":
                yield self.diagnostic("empty brackets", node.start, node.end,
                                      fix=self.fix("remove the empty brackets", Edit(node.start, node.end, "")))


@register
class WeightSpacing(Rule):
    """Spaces around the weight of a group: ``(x: 1.3)`` or ``(x :1.3 )``.

    Why: A1111 accepts them, but other front ends and scripts that rewrite prompts often do not, and the
    space before the colon ends up in the text.

    Example: ``(smile: 1.3)`` -> ``(smile:1.3)``. Fix (safe): remove the spaces.
    """

    code = "PK105"
    name = "weight-spacing"
    category = "syntax"
    severity = Severity.INFO
    fix_safety = "safe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        for node in ctx.prompt.walk():
            if type(node) is Group and node.kind == "weight" and node.closed:
                compact = ":" + node.close[1:-1].strip() + ")"
                if compact != node.close:
                    start = node.end - len(node.close)
                    yield self.diagnostic(f"write the weight as {compact!r}", start, node.end,
                                          fix=self.fix("remove the spaces", Edit(start, node.end, compact)))


_NAI_BRACES = re.compile(r"\{([^{}|]+)\}")
_COMPEL_SIGNS = re.compile(r"(?<=\w)(\+\++|\+|--+)(?=[\s,)]|$)")
_COMPEL_NUMBER = re.compile(r"^\d*\.?\d+")


@register
class DialectMismatch(Rule):
    """Syntax from another front end than the one the prompt is for.

    Why: each front end reads only its own syntax; the rest becomes text the model sees literally.
    NovelAI's ``{x}`` is text in A1111 and ComfyUI, compel's ``x++`` and ``(x)1.3`` are text in A1111,
    and A1111's ``[x]`` is text in ComfyUI.

    Example (A1111): ``{{masterpiece}}`` -> ``(masterpiece:1.1025)``. Fix (unsafe): rewrite in the prompt's dialect.
    """

    code = "PK106"
    name = "dialect-mismatch"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        dialect = ctx.prompt.dialect
        text = ctx.text
        if dialect in ("a1111", "comfy"):
            for m in _NAI_BRACES.finditer(text):
                depth = 1
                s, e = m.start(), m.end()
                while s > 0 and e < len(text) and text[s - 1] == "{" and text[e] == "}":
                    s, e, depth = s - 1, e + 1, depth + 1
                if s > 0 and text[s - 1] == "\\":
                    continue
                weight = format_weight(1.05 ** depth)
                yield self.diagnostic(
                    f"NovelAI braces are plain text in {dialect}; for emphasis write ({m.group(1)}:{weight})",
                    s, e, fix=self.fix("rewrite as a weight", Edit(s, e, f"({m.group(1)}:{weight})")))
            for node in ctx.prompt.walk():
                if type(node) is Text and node.kind == Text.PLAIN:
                    for m in _COMPEL_SIGNS.finditer(node.value):
                        yield self.diagnostic(f"compel's {m.group()!r} is plain text in {dialect}",
                                              node.start + m.start(), node.start + m.end(),
                                              suggestions=["write (word:1.1) instead"])
            for parent in [ctx.prompt.children] + [n.children for n in ctx.prompt.walk() if type(n) is Group]:
                for a, b in zip(parent, parent[1:]):
                    if type(a) is Group and a.kind == "round" and a.closed and type(b) is Text and \
                            (m := _COMPEL_NUMBER.match(b.value)):
                        yield self.diagnostic(f"compel's ')number' weight is plain text in {dialect}; "
                                              f"write (...:{m.group()})", a.start, b.start + m.end())
        if dialect == "comfy":
            for node in ctx.prompt.walk():
                if type(node) is Text and node.value in ("[",):
                    yield self.diagnostic("square brackets are plain text in ComfyUI; de-emphasize with (x:0.9)",
                                          node.start, node.end)


@register
class BarePipe(Rule):
    """A ``|`` outside square brackets in a prompt that uses prompt editing.

    Why: A1111's schedule parser cannot read a bare ``|``; it then gives up on the whole prompt, so every
    ``[a:b:when]`` and ``[a|b]`` in it is used as literal text instead.

    Example: ``cat | dog, [day:night:0.5]`` -> ``cat, dog, [day:night:0.5]``.
    """

    code = "PK107"
    name = "bare-pipe"
    category = "syntax"
    severity = Severity.ERROR

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect != "a1111" or "|" not in ctx.text or not ctx.prompt.has_schedules:
            return
        inside: set[int] = set()
        for node in ctx.prompt.walk():
            if type(node) is Alternation:
                inside.update(id(n) for n in node.children)
        for node in ctx.prompt.walk():
            if type(node) is Text and node.kind == Text.PIPE and id(node) not in inside:
                yield self.diagnostic("a '|' outside [a|b] turns off every prompt-editing and alternation "
                                      "bracket of this prompt", node.start, node.end,
                                      suggestions=["use a comma", "escape it as '\\|'"])


@register
class NestedEmphasis(Rule):
    """Stacked brackets such as ``(((x)))`` where one explicit weight says the same.

    Why: ``(x:1.331)`` is the same weight and says it plainly; deep stacks are easy to miscount and do not
    convert cleanly between front ends.

    Example: ``(((detailed eyes)))`` -> ``(detailed eyes:1.331)``. Fix (safe): the same weight, written once.
    """

    code = "PK108"
    name = "nested-emphasis"
    category = "syntax"
    severity = Severity.INFO
    fix_safety = "safe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect != "a1111":
            return
        for node in ctx.prompt.walk():
            if type(node) is not Group or node.kind not in ("round", "square") or not node.closed:
                continue
            depth, inner = 1, node
            while (len(inner.children) == 1 and type(inner.children[0]) is Group
                   and inner.children[0].kind == node.kind and inner.children[0].closed):
                inner = inner.children[0]
                depth += 1
            if depth < 3 or any(type(c) is not Text for c in inner.children):
                continue
            weight = format_weight(node.multiplier ** depth)
            body = render_source(inner.children)
            yield self.diagnostic(f"{depth} nested brackets: write ({body.strip()}:{weight})", node.start, node.end,
                                  fix=self.fix("write one weight", Edit(node.start, node.end, f"({body}:{weight})")))
