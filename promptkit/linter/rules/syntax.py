"""Syntax rules (PK1xx): brackets, weights, colons, keywords, and syntax from the wrong dialect."""

from __future__ import annotations

import math
import re
from typing import Iterable

from ...syntax.ast import Alternation, Group, Schedule, Text, render_source
from ...syntax.render import format_weight
from ...tags.sources import TagCategory
from ..diagnostics import Diagnostic, Edit, Severity
from ..rule import LintContext, Rule, quote

_CLOSER = {"(": ")", "[": "]", "{": "}"}


def _and_more(found: list) -> str:
    """The message's ``(and N more)`` for a rule that reports the first of its ``found`` places for all."""
    return f" (and {len(found) - 1} more)" if len(found) > 1 else ""


class UnbalancedBracket(Rule):
    """A bracket without its partner.

    Why: A1111 applies an unclosed ``(`` or ``[`` to the whole rest of the prompt and reads a stray ``)`` as
    text, so the weights are not what the brackets suggest. Usually the parentheses belong to a tag such as
    ``kazusa (blue archive`` and should be escaped. A run of unclosed openers (``(((``) is one finding.

    Example: ``1girl, (smile, looking at viewer`` -> ``1girl, (smile), looking at viewer``.
    Fix (unsafe, stray closers only: the model stops reading the bracket as text): where a weight stands before
    the closer (``flat color:2)``) its lost ``(`` is restored, otherwise the leftover closer is removed;
    escaping it (``\\)``) is suggested for a bracket that is meant as text.
    """

    code = "PK101"
    name = "unbalanced-bracket"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.plain_caption:
            return  # its tree is text runs and separators: no bracket at all
        last_open_end = -1
        for node in ctx.nodes:
            t = type(node)
            if t is Group and not node.closed and node.kind not in ("compel_word",):
                if node.start == last_open_end:  # "(((": one finding for the run
                    last_open_end = node.start + len(node.open)
                    continue
                last_open_end = node.start + len(node.open)
                close = "::" if node.kind == "nai_weight" else _CLOSER.get(node.open[-1:], ")")
                yield self.diagnostic(
                    f"{node.open!r} is never closed: A1111 applies it to the rest of the prompt",
                    node.start, node.start + len(node.open),
                    suggestions=[f"close it with {close!r}", f"escape it as '\\{node.open}' if it belongs to a tag"])
            elif t is Text and node.kind == Text.STRAY and (node.raw in (")", "]", "}") or node.raw[:1] == ":"):
                found = self._stray_closer(ctx, node)
                if found is not None:
                    yield found

    def _stray_closer(self, ctx: LintContext, node: Text) -> Diagnostic | None:
        """A closer with no opener is a leftover: the model reads it as text. Where a weight stands before it
        (``flat color:2)``), the opener was lost and the fix restores it; otherwise the fix removes the closer.
        Both change what the model reads (unsafe); escaping it keeps the text as it is, offered as a suggestion."""
        close = node.end - 1  # the bracket itself (a weight's stray closer ":2)" is one node)
        escaped = f"escape it as '\\{ctx.text[close]}' if it is meant as text"
        lost = None
        if ctx.text[close] == ")":  # the text since the last separator, within a tag's reach (linear on ")))...")
            window = max(0, close - _TAG_REACH)
            cut = max(ctx.text.rfind(",", window, close), ctx.text.rfind("\n", window, close))
            if cut >= 0 or window == 0:
                lost = _LOST_OPENER.match(ctx.text, cut + 1, close)
        if lost is not None:
            at = lost.start(1)
            return self.diagnostic(
                f"')' closes nothing: its '(' is missing, so A1111 reads {quote(ctx.text[at:node.end])} as text "
                "and applies no weight", close, node.end, suggestions=[escaped],
                fix=self.fix("add the missing '('", Edit(at, at, "("), safe=False))
        if node.raw[:1] == ":":
            return None
        return self.diagnostic(
            f"{node.raw!r} closes nothing and is read as text", node.start, node.end, suggestions=[escaped],
            fix=self.fix(f"remove the stray {node.raw!r}", Edit(node.start, node.end, ""), safe=False))


# a weight right before a stray ')': the text since the last separator is "name:number" (its "(" was lost)
_LOST_OPENER = re.compile(r"\s*([^,\n()\[\]{}:\\]*[^\s,\n()\[\]{}:\\]:\s*[+-]?(?:\d+\.?\d*|\.\d+))\s*$")
_TAG_REACH = 200  # characters looked back for it: a tag with a lost "(" is no longer than that


_LOST_WEIGHT = re.compile(r"\s*[+-]?(?:\d+[.,]?\d*|[.,]\d+)(?:\s*[^\s,)]+)?\s*$")


class AmbiguousColon(Rule):
    """A weight A1111 does not read: ``(smile:1,2)``, ``(smile:1.2x)``, ``(smile:+ 1.2)``, ``smile:1.3`` with
    no brackets, or the inner ``:1.2`` of ``(masterpiece, detailed:1.2, 1girl)``.

    Why: A1111 reads only ``:<number>)`` at the end of a group as a weight; anything else after the colon
    makes the colon and the "weight" plain text, and the group gets the default 1.1. A colon that is part of
    a tag (``re:zero``, ``16:9``), a label (``style: anime``) or a second colon before a weight A1111 reads
    (``(x::1.2)``: the weight still applies) is not reported.

    Example: ``(smile:1,2)`` -> ``(smile:1.2)``; ``smile:1.3`` -> ``(smile:1.3)``.
    Fix (unsafe: the weight starts to apply) for a tag with a bare weight: brackets around it.
    """

    code = "PK102"
    name = "ambiguous-colon"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect not in ("a1111", "comfy") or (":" not in ctx.text and ";" not in ctx.text and
                                                            "." not in ctx.text):
            return
        text = ctx.text
        for node in ctx.nodes if "(" in text else ():  # round groups only
            if type(node) is not Group or node.kind != "round" or not node.closed:
                continue
            children = node.children
            colons = [i for i, c in enumerate(children) if type(c) is Text and c.kind == Text.COLON]
            if not colons:
                yield from self._misplaced(ctx, node)
                continue
            last = colons[-1]
            tail = text[children[last].end:node.end - len(node.close)]
            first = tail.strip()[:1]
            if not first or not (first.isdigit() or first in ".,+-") or not _LOST_WEIGHT.match(tail):
                continue
            before = text[max(0, children[last].start - 1):children[last].start]
            if before.isdigit() and tail.strip().isdigit():
                continue  # 16:9, 10:30
            yield self.diagnostic(
                f"A1111 does not read ':{tail.strip()}' as a weight; the group gets 1.1 and the text "
                f"{quote(':' + tail.strip())} goes to the model", children[last].start, node.end - len(node.close),
                suggestions=["write the weight as (tag:1.2)"])
        # a tag's raw text is a piece of the text: one that ends in a bare weight is a bare weight in the text
        for tag in ctx.tags if _BARE_WEIGHT_ANYWHERE.search(text) else ():
            m = _BARE_WEIGHT.search(tag.raw)
            if m is None or not 0 < float(m.group(2)) <= 3 or ctx.info(tag) is not None:
                continue
            rest = text[tag.end:].lstrip(" \t)")
            if tag.weight == 1.0 and (rest.startswith("AND") or (not rest.strip() and _has_and(ctx))):
                continue  # "a cat :1.2 AND a dog": the weight of an AND sub-prompt, which A1111 reads
            body = tag.raw[:m.start(1)].rstrip()
            where = "with no brackets" if tag.weight == 1.0 else "inside a group, before its end"
            fixed = f"({body}:{m.group(2)})"
            yield self.diagnostic(f"{quote(tag.raw)}: A1111 reads a weight only as (tag:weight); {where} "
                                  f"':{m.group(2)}' is text the model sees", tag.start, tag.end,
                                  suggestions=[fixed], fix=self.fix(f"write {fixed!r}", Edit(tag.start, tag.end, fixed)))


    def _misplaced(self, ctx: LintContext, node: Group) -> Iterable[Diagnostic]:
        """A group with no weight of its own and one written beside it: ``(x;1.8)`` (a semicolon), ``(x 0.5)``
        (no colon) and ``(x):1.2`` (after the bracket; but ``a AND (x):1.2`` is the weight of an AND sub-prompt, which A1111
        reads). A1111 gives the group 1.1 and the model sees the number as text."""
        text = ctx.text
        close = node.end - len(node.close)
        m = _SEMICOLON_WEIGHT.search(text, node.start + len(node.open), close)
        if m is not None and m.end() == close:
            fixed = f"{text[node.start:m.start()]}:{m.group(1)})"
            yield self.diagnostic(f"';{m.group(1)}' is no weight to A1111 (a semicolon, not a colon): the group "
                                  f"gets 1.1 and ';{m.group(1)}' is text", m.start(), m.end(), suggestions=[fixed],
                                  fix=self.fix(f"write {fixed!r}", Edit(m.start(), m.start() + 1, ":")))
            return
        m = _SPACE_WEIGHT.search(text, node.start + len(node.open), close)
        if m is not None and m.end() == close:
            fixed = f"{text[node.start:m.start()]}:{m.group(1)})"
            yield self.diagnostic(f"'{m.group(1)}' is no weight to A1111 without its colon: the group gets 1.1 and "
                                  f"'{m.group(1)}' is text", m.start(), m.end(), suggestions=[fixed],
                                  fix=self.fix(f"write {fixed!r}", Edit(m.start(), m.end(), f":{m.group(1)}")))
            return
        m = _WEIGHT_OUTSIDE.match(text, node.end)
        if m is not None and not _has_and(ctx):
            fixed = f"{text[node.start:close]}:{m.group(1)})"
            yield self.diagnostic(f"the weight ':{m.group(1)}' stands outside the brackets: A1111 gives the group "
                                  f"1.1 and the model sees ':{m.group(1)}' as text", close, m.end(),
                                  suggestions=[fixed],
                                  fix=self.fix(f"write {fixed!r}", Edit(close, m.end(), f":{m.group(1)})")))


# ``(x;1.8)``: a weight written with a semicolon; ``(x):1.2``: a weight after the closing bracket
_SEMICOLON_WEIGHT = re.compile(r";\s*(\d*\.\d+|\d+(?:\.\d*)?)\s*")
_SPACE_WEIGHT = re.compile(r"(?<=[A-Za-z])\s+(\d\.\d+|0?\.\d+)\s*")  # "(head garland 0.5)": decimals only
_WEIGHT_OUTSIDE = re.compile(r":\s*(\d*\.\d+|\d+(?:\.\d*)?)(?=\s*(?:,|\n|$|BREAK\b))")


def _has_and(ctx: LintContext) -> bool:
    from ...syntax.ast import And

    return any(type(n) is And for n in ctx.prompt.children)


# a tag ending in ``:1.3`` (a letter or closing bracket before the colon: not ``16:9``)
_BARE_WEIGHT = re.compile(r"(?<=[A-Za-z)])(:)(\d*\.\d+|\d+(?:\.\d*)?)$")  # "Clip skip: 2" is a label
_BARE_WEIGHT_ANYWHERE = re.compile(r"(?<=[A-Za-z)]):\d")


class WeightRange(Rule):
    """An effective weight that breaks images: above the profile's limit (2 by default), or below zero (not in
    the NovelAI dialect, where V4's numeric emphasis ``-0.8::feet::`` removes a concept on purpose).

    Why: above 2 the concept burns into the image and takes over; negative weights do not mean "not" (use
    the negative prompt). Nesting multiplies: ``(((x:1.5)))`` is 2.0. In a negative prompt weights up to 2
    are common practice and only more is reported. One finding per group. Weights above ~1.5 are PK111.

    Example: ``(masterpiece:2.5)`` -> ``(masterpiece:1.2)``.
    """

    code = "PK103"
    name = "weight-out-of-range"
    category = "syntax"
    severity = Severity.ERROR

    def limit(self, ctx: LintContext) -> float:
        return max(ctx.profile.weight_error, 2.0) if ctx.negative else ctx.profile.weight_error

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        limit = self.limit(ctx)
        # NovelAI V4's numeric emphasis takes negative weights on purpose (``-0.8::feet::`` removes feet; its own
        # default quality suffix uses it): a documented feature there, a mistake everywhere else
        negative_ok = ctx.prompt.dialect == "novelai"
        lowest = float("-inf") if negative_ok or type(self) is not WeightRange else 0.0
        ceiling = float("inf") if type(self) is WeightRange else ctx.profile.weight_error
        if ctx.negative and type(self) is not WeightRange:
            return
        tags = ctx.tags
        if all(lowest <= t.weight <= limit for t in tags):
            return  # every weight in range (a caption without brackets: all 1)
        reported_until = -1
        for tag in tags:
            w = tag.weight
            if tag.start < reported_until or (lowest <= w <= limit) or w > ceiling:
                continue
            group = _weighting_group(ctx, tag)
            start, end = (group.start, group.end) if group is not None else (tag.start, tag.end)
            reported_until = end
            what = quote(ctx.text[start:end])
            if w < 0:
                yield self.diagnostic(f"{what} has a negative weight ({format_weight(w)}); "
                                      "put unwanted things in the negative prompt", start, end)
            else:
                yield self.diagnostic(f"{what} has weight {format_weight(w)} (above {format_weight(limit)}"
                                      f"{' breaks most images' if type(self) is WeightRange else ''})", start, end)


class HighWeight(WeightRange):
    """A weight above the profile's comfortable range (1.5 by default) in a positive prompt (opt-in).

    Why: between ~1.5 and 2 a concept starts to dominate and distort the image on many models; many users
    go there on purpose, so this is off by default (PK103 reports weights that break images).

    Example: ``(smile:1.8)`` -> ``(smile:1.3)``.
    """

    code = "PK111"
    name = "high-weight"
    severity = Severity.WARNING
    default = False

    def limit(self, ctx: LintContext) -> float:
        return ctx.profile.weight_warn


def _weighting_group(ctx: LintContext, tag) -> Group | None:
    """The outermost group around ``tag``: one finding covers every tag it weights."""
    return ctx.parents.outermost(tag)


_IN_VARIABLE = re.compile(r"\$\{[^}]*$")


class EmptyGroup(Rule):
    """Brackets with nothing inside: ``()``, ``[]``, ``(:1.2)``.

    Why: they do nothing but make the prompt harder to read (and are often left over from editing).

    Example: ``1girl, (), smile`` -> ``1girl, , smile``. Fix (safe): remove the brackets; where they stand
    between two words (``smile()frown``) removing them would join the words into one, so the fix puts a
    comma there instead and is unsafe.
    """

    code = "PK104"
    name = "empty-group"
    category = "syntax"
    severity = Severity.INFO
    fix_safety = "safe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.plain_caption:
            return  # its tree is text runs and separators: no group at all
        text = ctx.text
        for node in ctx.nodes:
            t = type(node)
            if t is not Group and t is not Schedule and t is not Alternation:
                continue
            if not getattr(node, "closed", True) or getattr(node, "kind", "") == "compel_word":
                continue
            if any(type(c) is not Text or c.raw.strip() for c in node.children):
                continue  # (()) is reported for its inner pair; fixing that empties the outer one
            if _IN_VARIABLE.search(text, max(0, text.rfind("\n", 0, node.start) + 1), node.start):
                continue  # ${colors[]=...}, ${style:()}: dynamic-prompts variables, not emphasis
            before = text[node.start - 1:node.start]
            after = text[node.end:node.end + 1]
            glued = bool(before) and bool(after) and not (before.isspace() or before in ",([{") and \
                not (after.isspace() or after in ",)]}")
            fix = self.fix("put a comma in place of the empty brackets", Edit(node.start, node.end, ", "),
                           safe=False) if glued else \
                self.fix("remove the empty brackets", Edit(node.start, node.end, ""))
            yield self.diagnostic("empty brackets", node.start, node.end, fix=fix)


class WeightSpacing(Rule):
    """Spaces around the weight of a group: ``(x: 1.3)`` or ``(x :1.3 )``.

    Why: A1111 accepts them, but other front ends and scripts that rewrite prompts often do not, and the
    space before the colon ends up in the text. Off by default (A1111 reads it fine); ``fmt`` applies it.

    Example: ``(smile: 1.3)`` -> ``(smile:1.3)``. Fix (safe): remove the spaces.
    """

    code = "PK105"
    name = "weight-spacing"
    category = "syntax"
    severity = Severity.INFO
    fix_safety = "safe"
    default = False

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        for node in ctx.nodes:
            if type(node) is Group and node.kind == "weight" and node.closed:
                compact = ":" + node.close[1:-1].strip() + ")"
                if compact != node.close:
                    start = node.end - len(node.close)
                    yield self.diagnostic(f"write the weight as {compact!r}", start, node.end,
                                          fix=self.fix("remove the spaces", Edit(start, node.end, compact)))


_NAI_BRACES = re.compile(r"\{([^{}|$]+)\}")
_SQUARE_GROUP = re.compile(r"(?<!\\)(\[+)([^\[\]:|]+)(\]+)")  # "[abstract]", "[[x]]"; not "[a:b:0.5]"
_COMPEL_SIGNS = re.compile(r"(?<=[\w)])(\+\++|\+|--+)(?=[\s,)]|$)")
_COMPEL_GROUP_SIGN = re.compile(r"^(\+\++|\+|--+|-)(?=[\s,)]|$)")
_COMPEL_NUMBER = re.compile(r"^\d*\.?\d+(?![\w.])")
_AFTER_GROUP = re.compile(r"\)[-+.\d]")  # where either of the two above can follow a round group's ')'
_BREAK_WORD = re.compile(r"(?<![\w])BREAK(?![\w])")  # A1111's keyword, a word of its own
_ROUND = re.compile(r"\(([^():\\]+?)(?::\s*(\d*\.?\d+))?\)")
_PLACEHOLDER = re.compile(r"^\s*(\w*prompt\w*|p|np|cursor)\s*$", re.I)  # {cursor}: Krita's, PromptChain's
_TEMPLATE_BODY = re.compile(r"[\"=]|^\s*\w+:\S")


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def _alone_on_line(text: str, run: tuple) -> bool:
    """``{cursor}`` as a whole line of a multi-line template (or the whole prompt): the place a front end
    inserts text, not one word in NovelAI braces."""
    s, e = run[0], run[1]
    if not text[:s].strip() and not text[e:].strip():
        return True  # the whole prompt, or a line of a file read line by line
    before = text.rfind("\n", 0, s)
    after = text.find("\n", e)
    return "\n" in text and not text[before + 1:s].strip() and not text[e:len(text) if after == -1 else after].strip()


def _format_field(ctx: LintContext, body: str) -> bool:
    """``{character}`` in single braces may be a template's field (Python's str.format, a front end's
    variables): a lower-case identifier that is no well-used tag under its own name. A prompt whose braces
    are all such fields, two or more, is a template; one alone (``{masterpiece}``) is NovelAI emphasis."""
    if not _IDENTIFIER.fullmatch(body) or body in ctx.vocabulary or ctx.db is None:
        return False
    return _no_well_used_tag(ctx, body)


def _no_well_used_tag(ctx: LintContext, body: str) -> bool:
    """No tag of the database has ``body`` as its exact name with 1,000 posts or more."""
    info = ctx.db.lookup(body)
    return info is None or info.matched != "exact" or info.post_count < 1000


_SHOUTED = re.compile(r"[A-Z][A-Z0-9_]*")
#: names templates give their fields ("{subject}", "{style}"): no Danbooru tag has these as a whole name
_FIELD_NAMES = frozenset({"subject", "input", "text", "name", "style", "character", "scene", "description", "tags",
                          "caption", "positive", "negative", "extra", "content", "query", "pose", "outfit",
                          "location", "setting", "mood", "action", "emotion"})


def _template_field(ctx: LintContext, body: str) -> bool:
    """A template's field in single or double braces, whatever else the prompt holds: ``{{PROFESSION_TAGS}}`` (a
    name in capitals: nobody emphasises a tag by shouting it), ``{negative_extra}`` (a snake_case name that is no
    tag) or a field's usual name (``{subject}``) that is no well-used tag."""
    if _SHOUTED.fullmatch(body) and len(body) >= 2:
        return True
    if not _IDENTIFIER.fullmatch(body) or body in ctx.vocabulary:
        return False
    if "_" not in body and body not in _FIELD_NAMES:
        return False
    return ctx.db is None or _no_well_used_tag(ctx, body)


_COMFY_EMBEDDING = re.compile(r"(?<![\w:])embedding:([^\s,()\[\]<>:]+)", re.IGNORECASE)


class DialectMismatch(Rule):
    """Syntax from another front end than the one the prompt is for.

    Why: each front end reads only its own syntax; the rest becomes text the model sees literally.
    NovelAI's ``{x}`` is text in A1111 and ComfyUI, compel's ``x++`` and ``(x)1.3`` are text in A1111,
    and A1111's ``[x]`` and ``BREAK`` are text in ComfyUI; so is ComfyUI's ``embedding:name`` in A1111, which finds
    an embedding by its name alone. A styles.csv placeholder ``{prompt}`` and dynamic-prompts
    variants ``{a|b}`` are not NovelAI braces. One finding per prompt for its braces (``{{{半闭眼}}}`` too),
    whose fix rewrites every run.

    Example (A1111): ``{{masterpiece}}`` -> ``(masterpiece:1.1025)``. Fix (unsafe): rewrite in the prompt's dialect.
    """

    code = "PK106"
    name = "dialect-mismatch"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def _comfy_embeddings(self, ctx: LintContext, text: str) -> Iterable[Diagnostic]:
        """ComfyUI's ``embedding:folder/name`` in an A1111 prompt: A1111 finds a textual inversion by its name
        wherever the name's tokens stand, so the prefix and the folder are words the model reads."""
        for m in _COMFY_EMBEDDING.finditer(text):
            name = re.split(r"[/\\]", m.group(1))[-1]
            name = re.sub(r"\.(pt|bin|safetensors)$", "", name, flags=re.IGNORECASE)
            if not name:
                continue
            yield self.diagnostic(f"ComfyUI's {quote(m.group())} is text in A1111, which finds an embedding by its "
                                  f"name alone: the prefix is words the model reads; write {name!r}",
                                  m.start(), m.end(), suggestions=[name],
                                  fix=self.fix(f"write {name!r}", Edit(m.start(), m.end(), name)))

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        dialect = ctx.prompt.dialect
        text = ctx.text
        if dialect in ("a1111", "comfy"):
            yield from self._braces(ctx, text, dialect)
            # compel's signs are '+' and '--' (a lone '-' only right after a group), its number weights follow a ')':
            # a prompt without them skips the walks (plain text nodes are slices of the text)
            signs = "+" in text or "--" in text
            for node in ctx.nodes if signs else ():
                if type(node) is Text and node.kind == Text.PLAIN:
                    for m in _COMPEL_SIGNS.finditer(node.value):
                        yield self.diagnostic(f"compel's {m.group()!r} is plain text in {dialect}",
                                              node.start + m.start(), node.start + m.end(),
                                              suggestions=["write (word:1.1) instead"])
            closed = _AFTER_GROUP.search(text) is not None  # a sign or number right after a closed round group
            for parent in [ctx.prompt.children] + [n.children for n in ctx.nodes if type(n) is Group] if closed else ():
                for a, b in zip(parent, parent[1:]):
                    if type(a) is Group and a.kind == "round" and a.closed and type(b) is Text and \
                            b.kind == Text.PLAIN and (m := _COMPEL_GROUP_SIGN.match(b.value)):
                        yield self.diagnostic(f"compel's {quote(text[a.start:b.start + m.end()])} is not a weight in "
                                              f"{dialect}: the brackets give 1.1 and {m.group()!r} is text",
                                              a.start, b.start + m.end())
                        continue
                    if type(a) is Group and a.kind == "round" and a.closed and type(b) is Text and \
                            b.kind == Text.PLAIN and (m := _COMPEL_NUMBER.match(b.value)):
                        yield self.diagnostic(f"compel's ')number' weight is plain text in {dialect}; "
                                              f"write (...:{m.group()})", a.start, b.start + m.end())
        if dialect == "a1111" and "embedding:" in text:
            yield from self._comfy_embeddings(ctx, text)
        if dialect == "novelai":
            for tag in ctx.tags:
                m = _ROUND.fullmatch(tag.raw)
                if m is None:
                    continue
                body, weight = m.group(1), m.group(2)
                fixed = f"{weight}::{body}::" if weight else "{" + body + "}"
                yield self.diagnostic(f"A1111 parentheses are plain text in NovelAI; for emphasis write {fixed}",
                                      tag.start, tag.end, suggestions=[fixed],
                                      fix=self.fix(f"write {fixed!r}", Edit(tag.start, tag.end, fixed)))
        if dialect == "comfy" and "STYLE(A1111)" not in text:  # comfyui-prompt-control's A1111 mode reads them
            if "BREAK" in text:
                yield from self._comfy_break(ctx)
            for node in ctx.nodes:
                if type(node) is not Text or "[" not in node.value:
                    continue
                for m in _SQUARE_GROUP.finditer(node.value):
                    if len(m.group(1)) != len(m.group(3)):
                        continue
                    body = m.group(2).strip()
                    fixed = f"({body}:{format_weight(1 / 1.1 ** len(m.group(1)))})"  # what A1111 read
                    start = node.start + m.start()
                    yield self.diagnostic(f"square brackets are plain text in ComfyUI; de-emphasize with {fixed}",
                                          start, start + len(m.group()), suggestions=[fixed],
                                          fix=self.fix(f"write {fixed!r}", Edit(start, start + len(m.group()), fixed)))

    def _comfy_break(self, ctx: LintContext) -> Iterable[Diagnostic]:
        """A1111's ``BREAK``: ComfyUI's own text encoder reads the word (custom nodes such as smZ's read it)."""
        for node in ctx.nodes:
            if type(node) is Text and node.kind == Text.PLAIN:
                for m in _BREAK_WORD.finditer(node.value):
                    yield self.diagnostic("A1111's BREAK is the word 'break' to ComfyUI's CLIP Text Encode; start a "
                                          "new chunk with a Conditioning (Concat) node", node.start + m.start(),
                                          node.start + m.end())

    def _braces(self, ctx: LintContext, text: str, dialect: str) -> Iterable[Diagnostic]:
        """One finding for all the NovelAI braces of a prompt (one cause), its fix rewriting each run."""
        runs = []
        for m in _NAI_BRACES.finditer(text):
            if _PLACEHOLDER.match(m.group(1)) or _TEMPLATE_BODY.search(m.group(1)) or \
                    (m.start() > 0 and text[m.start() - 1] == "$"):
                continue  # ${variable}, {"json": ...}, {userprompt}: a template's syntax, not NovelAI emphasis
            depth = 1
            s, e = m.start(), m.end()
            while s > 0 and e < len(text) and text[s - 1] == "{" and text[e] == "}":
                s, e, depth = s - 1, e + 1, depth + 1
            if s > 0 and text[s - 1] == "\\":
                continue
            runs.append((s, e, depth, m.group(1)))
        runs = [run for run in runs
                if not (run[2] == 1 and _IDENTIFIER.fullmatch(run[3]) and _alone_on_line(text, run))
                and not (run[2] <= 2 and _template_field(ctx, run[3]))]
        fields = {body for _, _, depth, body in runs if depth == 1 and _format_field(ctx, body)}
        if len(fields) >= 2 and all(run[2] == 1 and run[3] in fields for run in runs):
            return  # {character} ... {species}: a str.format template's fields, not emphasis
        if not runs:
            return
        s, e, depth, body = runs[0]
        if depth > 40:  # 1.05 ** depth is beyond any weight a model survives (and beyond floats at ~14500)
            yield self.diagnostic(f"{depth} levels of NovelAI braces are plain text in {dialect}", s, e)
            return
        more = f" (and {len(runs) - 1} more run(s) of braces)" if len(runs) > 1 else ""
        # a lopsided run ("{master piece}}") is left as it is: how many braces were meant is a guess, and
        # rewriting the balanced part would leave a stray "}"
        edits = [Edit(rs, re_, f"({rb}:{format_weight(math.pow(1.05, rd))})") for rs, re_, rd, rb in runs
                 if rd <= 40 and text[re_:re_ + 1] != "}" and text[rs - 1:rs] != "{"]
        weight = format_weight(math.pow(1.05, depth))
        yield self.diagnostic(
            f"NovelAI braces are plain text in {dialect}; for emphasis write ({quote(body.strip())[1:-1]}:{weight})"
            f"{more}", s, e,
            fix=self.fix(f"rewrite {len(edits)} run(s) of braces as weights", *edits) if edits else None)


_NETWORK = re.compile(r"(\\?)<(lora|lyco|hypernet|lycoris):([^<>\n]*?)(\\?)>", re.I)
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")


class ExtraNetworkSyntax(Rule):
    """A LoRA (or hypernetwork) tag A1111 cannot read: ``<lora:detail:0,8>``, ``\\<lora:detail:0.8\\>``.

    Why: A1111 reads ``<lora:name:multiplier>`` with a number as the multiplier; ``0,8`` is no number (the
    generation stops with an error), and an escaped ``\\<`` is not unescaped: the tag is not loaded and its
    text goes to the model. Keyword arguments (``te=0.5``) and plain numbers are fine.

    Example: ``<lora:detail:0,8>`` -> ``<lora:detail:0.8>``. Fix (unsafe: the LoRA starts to load).
    """

    code = "PK113"
    name = "extra-network-syntax"
    category = "syntax"
    severity = Severity.ERROR
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect != "a1111" or "<" not in ctx.text:
            return
        for m in _NETWORK.finditer(ctx.text):
            s, e = m.start(), m.end()
            inner = f"<{m.group(2)}:{m.group(3)}>"
            if m.group(1) or m.group(4):
                yield self.diagnostic(f"{quote(m.group())}: A1111 does not unescape '\\<' or '\\>'; the "
                                      f"{m.group(2)} is not loaded", s, e, suggestions=[inner],
                                      fix=self.fix(f"write {inner!r}", Edit(s, e, inner)))
                continue
            args = m.group(3).split(":")
            for arg in args[1:]:
                if "=" in arg or not arg.strip():
                    continue
                if _DECIMAL_COMMA.match(arg):
                    fixed = inner.replace(arg, arg.replace(",", "."), 1)
                    yield self.diagnostic(f"{quote(arg.strip())} is not a number to A1111 (a decimal comma); the "
                                          "generation stops with an error", s, e, suggestions=[fixed],
                                          fix=self.fix(f"write {fixed!r}", Edit(s, e, fixed)))
                    break
                try:
                    float(arg)
                except ValueError:
                    yield self.diagnostic(f"{quote(arg.strip())} is not a number to A1111: the multiplier of "
                                          f"<{m.group(2)}:...> must be one", s, e)
                    break


_DOUBLED = re.compile(r"(?<!\\)\\\\(?=[()])")


class DoubledEscape(Rule):
    """A doubled escape before a bracket: ``kazusa \\\\(blue archive\\\\)``.

    Why: ``\\\\`` is an escaped backslash, so the bracket after it is syntax again: A1111 reads
    ``(blue archive\\)`` as emphasis with a backslash in the text. Usually a prompt copied out of JSON or
    Python source with its escapes doubled. One finding per prompt for all of them.

    Example: ``kazusa \\\\(blue archive\\\\)`` -> ``kazusa \\(blue archive\\)``. Fix (unsafe: the emphasis goes).
    """

    code = "PK114"
    name = "doubled-escape"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect not in ("a1111", "comfy") or "\\\\" not in ctx.text:
            return
        found = list(_DOUBLED.finditer(ctx.text))
        if not found:
            return
        edits = [Edit(m.start(), m.end(), "\\") for m in found]
        first = found[0]
        more = _and_more(found)
        yield self.diagnostic(f"a doubled escape '\\\\' before a bracket: A1111 reads the bracket as emphasis; "
                              f"write '\\('{more}", first.start(), first.end() + 1,
                              fix=self.fix("write single escapes", *edits))


_ANGLE_TAG = re.compile(r"<[^<>\n]*>")
_TAG_EDGE = frozenset(" \t\r\n,")


def stray_backslashes(text: str) -> list[int]:
    """Positions of backslashes that escape nothing, at a tag's edge: before its first letter (``\\medusa``) or
    after its last character (``(fate)\\``). ``\\(`` and ``\\\\`` are escapes; backslashes in ``<lora:...>``
    paths and kaomoji (``¯\\_(ツ)_/¯``) are left alone."""
    out: list[int] = []
    networks = [m.span() for m in _ANGLE_TAG.finditer(text)] if "<" in text else []
    i, n = 0, len(text)
    while i < n:
        i = text.find("\\", i)
        if i == -1:
            break
        nxt = text[i + 1:i + 2]
        if nxt and nxt in "()[]\\":
            i += 2
            continue
        if not any(s <= i < e for s, e in networks):
            before = text[i - 1:i]
            leading = (not before or before in _TAG_EDGE) and nxt.isalnum()
            trailing = (before.isalnum() or before in ")]") and (not nxt or nxt in _TAG_EDGE)
            if leading or trailing:
                out.append(i)
        i += 1
    return out


class StrayBackslash(Rule):
    """A backslash that escapes nothing, at the edge of a tag: ``\\medusa (rider) (fate)\\``.

    Why: A1111 (and ComfyUI) read a backslash as an escape only before a bracket or a backslash; anywhere
    else it is text the model sees, a token of its own. Usually a wrong try at escaping a tag's brackets
    (the brackets are then still emphasis: PK206). One finding per prompt for all of them.

    A typed ``\\n`` (a string literal's line break pasted as text) goes with its letter.

    Example: ``\\medusa (rider) (fate)\\`` -> ``medusa (rider) (fate)``. Fix (unsafe: the text changes).
    """

    code = "PK115"
    name = "stray-backslash"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect not in ("a1111", "comfy") or "\\" not in ctx.text:
            return
        found = stray_backslashes(ctx.text)
        if not found:
            return
        more = _and_more(found)
        text = ctx.text
        ends = [i + 2 if _literal_escape(text, i) else i + 1 for i in found]
        if ends[0] == found[0] + 2:
            message = (f"'{text[found[0]:ends[0]]}' is another language's escape, not a line break: the model reads "
                       f"a backslash and the letter{more}")
        else:
            message = (f"a backslash that escapes nothing: the model sees it as text; to escape a bracket write '\\(' "
                       f"right before it{more}")
        edits = [Edit(i, e, "") for i, e in zip(found, ends)]
        yield self.diagnostic(message, found[0], ends[0], fix=self.fix("remove the stray backslashes", *edits))


def _literal_escape(text: str, i: int) -> bool:
    """The backslash at ``i`` starts a whole ``\\n``, ``\\t`` or ``\\r`` of a string literal typed into the prompt
    (``smile \\n``): the letter goes with it."""
    return text[i + 1:i + 2] in ("n", "t", "r") and not text[i + 2:i + 3].isalnum()


_HTML_ENTITY = re.compile(r"&(?:apos|quot|amp|nbsp|lt|gt|#39|#34|#x27);")


class HtmlEntity(Rule):
    """An HTML entity (``&apos;``, ``&quot;``, ``&amp;``) left in a prompt copied out of a web page or a JSON export.

    Why: no front end decodes entities; the text encoder reads the letters (``dragon&apos;s head`` is ``dragon``,
    ``&``, ``apos``, ``;s head``). One finding per prompt for all of them.

    Example: ``dragon&apos;s head`` -> ``dragon's head``. Fix (unsafe: the text changes to what was meant);
    none for ``&lt;`` and ``&gt;``, which would make ``<lora:...>`` syntax out of text.
    """

    code = "PK116"
    name = "html-entity"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if "&" not in ctx.text:
            return
        import html

        found = list(_HTML_ENTITY.finditer(ctx.text))
        if not found:
            return
        more = _and_more(found)
        first = found[0]
        fix = None
        if not any(m.group() in ("&lt;", "&gt;") for m in found):
            fix = self.fix("decode the entities", *(Edit(m.start(), m.end(), html.unescape(m.group()).replace(
                "\xa0", " ")) for m in found))
        yield self.diagnostic(f"the HTML entity {first.group()!r} is text to the model, not "
                              f"{html.unescape(first.group()).replace(chr(160), ' ')!r}{more}",
                              first.start(), first.end(), fix=fix)


_ESCAPED_GROUP = re.compile(r"\\\(([A-Za-z][\w' -]*)\\\)")


class EscapedEmphasis(Rule):
    """A whole tag in escaped brackets: ``\\(perfect details\\)``.

    Why: ``\\(`` is how a bracket that belongs to a tag's name is written (``kazusa \\(blue archive\\)``); around
    a whole tag the brackets are no emphasis but two more words the model reads. Reported when the brackets
    hold the whole tag, the words are no tag written in brackets, and the dialect reads ``\\(`` as an escape
    (A1111, ComfyUI).

    Example: ``1girl, \\(perfect details\\)`` -> ``1girl, (perfect details)``. Fix (unsafe: the weight changes,
    as meant); around a series, character or artist name (``vegeta, \\(dragon ball\\)``, a qualifier cut off by a
    comma) the fix writes the name bare.
    """

    code = "PK117"
    name = "escaped-emphasis"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect not in ("a1111", "comfy") or "\\(" not in ctx.text:
            return
        for tag in ctx.tags:
            raw = tag.raw.strip()
            m = _ESCAPED_GROUP.fullmatch(raw)
            if m is None or (ctx.db is not None and ctx.db.lookup(f"({m.group(1)})") is not None):
                continue
            start, end = tag.trimmed
            if _a_name(ctx, m.group(1)):  # "vegeta, \(dragon ball\)": a series' qualifier cut off by a comma
                yield self.diagnostic(f"'{raw}': escaped brackets are text around the name {m.group(1)!r}; write "
                                      f"it bare", start, end, suggestions=[m.group(1)],
                                      fix=self.fix("remove the escaped brackets", Edit(start, start + 2, ""),
                                                   Edit(end - 2, end, "")))
                continue
            yield self.diagnostic(f"'{raw}': escaped brackets are text, not emphasis; for emphasis write "
                                  f"'({m.group(1)})'", start, end, suggestions=[f"({m.group(1)})"],
                                  fix=self.fix("remove the backslashes", Edit(start, start + 1, ""),
                                               Edit(end - 2, end - 1, "")))


def _a_name(ctx: LintContext, words: str) -> bool:
    """The words are a series, character or artist tag (a qualifier of a name, not words to emphasise)."""
    info = ctx.db.lookup(words) if ctx.db is not None else None
    return info is not None and info.category in (TagCategory.COPYRIGHT, TagCategory.CHARACTER, TagCategory.ARTIST)


class StrayQuote(Rule):
    """A quote stuck to a tag that no front end reads: an unpaired ``"`` (``..., absurdres"``, left over from
    copying a prompt out of JSON or code), or typographic quotes (``“1girl, solo”``, from a word processor or a
    YAML file that meant them as quoting).

    Why: no front end reads quotes as syntax; the model sees the character as text, a token of its own, and
    the tag it is glued to is no longer the tag. Reported when the prompt holds an odd number of ``"`` and one
    touches the start or end of a tag, or when a ``“`` or ``”`` does in a tag profile's prompt (a natural-language
    prompt in typographic quotes is a quoted sentence). One finding per prompt.

    Example: ``1girl, absurdres"`` -> ``1girl, absurdres``. Fix (unsafe: the text changes): remove the quotes.
    """

    code = "PK118"
    name = "stray-quote"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        text = ctx.text
        straight = text.count('"') % 2 == 1
        curly = ctx.tag_profile and ("\u201c" in text or "\u201d" in text)  # a quoted sentence is no tag list
        if not straight and not curly:
            return
        marks = ('"' if straight else "") + ("\u201c\u201d" if curly else "")
        found = []
        for tag in ctx.tags:
            raw = tag.raw.strip()
            if len(raw) < 2:
                continue
            at, end = tag.trimmed
            if raw[0] in marks and raw.count(raw[0]) == 1:
                found.append(at)
            if raw[-1] in marks and raw.count(raw[-1]) == 1:
                found.append(end - 1)
        if not found:
            return
        first = text[found[0]]
        more = _and_more(found)
        yield self.diagnostic(f"a stray {first!r} stuck to a tag: the model reads it as text{more}", found[0],
                              found[0] + 1, fix=self.fix("remove the quotes", *(Edit(i, i + 1, "") for i in found)))


_FULL_WIDTH = {"（": "(", "）": ")", "［": "[", "］": "]"}
_FULL_WIDTH_COMMA = re.compile(r"(?<=[A-Za-z0-9)\]])\s*[，、]\s*(?=[A-Za-z(\[])")  # between Latin tags only
_FULL_WIDTH_PAIR = {"）": "（", "］": "［"}
_FULL_WIDTH_WEIGHT = re.compile(r"：\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*$")


class FullWidthSyntax(Rule):
    """Full-width brackets or colons (``（x：1.2）``, ``［x］``) used as weight syntax, or full-width commas between
    tags (``moon、silver hair``).

    Why: Chinese and Japanese input methods type ``（ ）`` and ``：``; A1111 and ComfyUI read only the ASCII
    characters as syntax, so ``（（杰作））`` gets no emphasis and ``（x：1.1）`` no weight, and the model sees the
    brackets as text. One finding per prompt, covering every full-width bracket pair and the weight colons
    inside; an unpaired full-width bracket (punctuation in a sentence) is left alone.

    Example: ``（（masterpiece））, （girl：1.1）`` -> ``((masterpiece)), (girl:1.1)``.
    Fix (unsafe: the weights change, as intended): the ASCII characters.
    """

    code = "PK112"
    name = "full-width-syntax"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        text = ctx.text
        if ctx.prompt.dialect not in ("a1111", "comfy"):
            return
        if "，" in text or "、" in text:
            yield from self._commas(text)
        if "（" not in text and "［" not in text:
            return
        open_at: list[int] = []
        pairs: list[tuple[int, int]] = []
        for i, ch in enumerate(text):
            if ch in "（［":
                open_at.append(i)
            elif ch in _FULL_WIDTH_PAIR and open_at and text[open_at[-1]] == _FULL_WIDTH_PAIR[ch]:
                pairs.append((open_at.pop(), i))
        if not pairs:
            return
        edits = []
        for s, e in pairs:
            edits += [Edit(s, s + 1, _FULL_WIDTH[text[s]]), Edit(e, e + 1, _FULL_WIDTH[text[e]])]
            colon = text.rfind("：", s, e)
            if colon != -1 and _FULL_WIDTH_WEIGHT.match(text, colon, e):
                edits.append(Edit(colon, colon + 1, ":"))
        edits.sort(key=lambda x: x.start)
        pairs.sort()
        first = pairs[0]
        more = f" and {len(pairs) - 1} more" if len(pairs) > 1 else ""
        yield self.diagnostic(f"full-width brackets {quote(text[first[0]:first[1] + 1])}{more} are plain text in "
                              f"{ctx.prompt.dialect}: no emphasis or weight is applied", first[0], first[1] + 1,
                              fix=self.fix(f"write {len(edits)} bracket(s) and colon(s) in ASCII", *edits))

    def _commas(self, text: str) -> Iterable[Diagnostic]:
        """Full-width commas between Latin tags (``moon、silver hair``): no tag separator to a tag-trained model,
        whose captions separate tags with ', '. Commas between CJK words are the language's own and stay."""
        found = list(_FULL_WIDTH_COMMA.finditer(text))
        if not found:
            return
        more = _and_more(found)
        first = found[0]
        yield self.diagnostic(f"a full-width comma {first.group().strip()!r} between tags is no tag separator; write "
                              f"', '{more}", first.start(), first.end(),
                              fix=self.fix("write ASCII commas", *(Edit(m.start(), m.end(), ", ") for m in found)))


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
        for node in ctx.nodes:
            if type(node) is Alternation:
                inside.update(id(n) for n in node.children)
        for node in ctx.nodes:
            if type(node) is Text and node.kind == Text.PIPE and id(node) not in inside:
                yield self.diagnostic("a '|' outside [a|b] turns off every prompt-editing and alternation "
                                      "bracket of this prompt", node.start, node.end,
                                      suggestions=["use a comma", "escape it as '\\|'"])


class NestedEmphasis(Rule):
    """Stacked brackets such as ``(((x)))`` where one explicit weight says the same.

    Why: ``(x:1.331)`` is the same weight and says it plainly; deep stacks are easy to miscount and do not
    convert cleanly between front ends. A style preference, so off by default (``fmt`` applies it); one
    finding per stack.

    Example: ``(((detailed eyes)))`` -> ``(detailed eyes:1.331)``. Fix (safe): the same weight, written once.
    """

    code = "PK108"
    name = "nested-emphasis"
    category = "syntax"
    severity = Severity.INFO
    fix_safety = "safe"
    default = False

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect != "a1111":
            return
        inside_stack: set[int] = set()
        for node in ctx.nodes:
            if type(node) is not Group or node.kind not in ("round", "square") or not node.closed:
                continue
            if id(node) in inside_stack:
                continue
            depth, inner = 1, node
            while (len(inner.children) == 1 and type(inner.children[0]) is Group
                   and inner.children[0].kind == node.kind and inner.children[0].closed):
                inner = inner.children[0]
                inside_stack.add(id(inner))
                depth += 1
            if depth < 3 or any(type(c) is not Text for c in inner.children):
                continue
            weight = _stacked_weight(node.multiplier, depth)
            body = render_source(inner.children)
            if weight is None:  # A1111 multiplies its way to an infinite weight: no number says that
                yield self.diagnostic(f"{depth} nested brackets: A1111 multiplies the weight to infinity; "
                                      "remove most of them",
                                      node.start, node.end)
                continue
            yield self.diagnostic(f"{depth} nested brackets: write ({quote(body.strip())[1:-1]}:{weight})",
                                  node.start, node.end,
                                  fix=self.fix("write one weight", Edit(node.start, node.end, f"({body}:{weight})")))


def _stacked_weight(multiplier: float, depth: int) -> str | None:
    """``multiplier ** depth`` written as one weight, or None where it overflows (A1111's weight is inf)."""
    try:
        return format_weight(multiplier ** depth)
    except OverflowError:
        return None


_GLUED_BREAK = re.compile(r"(?<=[a-z0-9])BREAK|BREAK(?=[a-z0-9])")


class LowercaseBreak(Rule):
    """``break`` written in lower case, or ``BREAK`` glued to a word.

    Why: A1111 starts a new 75-token chunk only at the word ``BREAK`` in capitals standing alone; ``break``
    or ``smileBREAK`` is read as text, so the chunk is not split and the model sees the word "break".

    Example: ``1girl, break, smile`` -> ``1girl BREAK smile``. Fix (unsafe: the chunks change, as intended).
    """

    code = "PK109"
    name = "lowercase-break"
    category = "syntax"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect != "a1111":
            return
        for tag in ctx.tags:
            if tag.text.lower() == "break" and tag.text != "BREAK":
                yield self.diagnostic(f"{tag.text!r} is text; A1111 starts a new chunk only at 'BREAK' in capitals",
                                      tag.start, tag.end, fix=self.fix("write 'BREAK'", Edit(tag.start, tag.end, "BREAK")))
                continue
            if "BREAK" in tag.raw:
                for m in _GLUED_BREAK.finditer(tag.raw):
                    s = tag.start + m.start()
                    yield self.diagnostic("'BREAK' glued to a word is text; it needs a space on each side",
                                          s, s + 5, fix=self.fix("put spaces around BREAK", Edit(s, s + 5, " BREAK ")))


_INFOTEXT = re.compile(r"(?:^|(?<=[\s,.]))(Negative prompt:|Steps: \d+, (?:Sampler|Seed|CFG scale|Size|Schedule type):)")


class PastedInfotext(Rule):
    """An A1111 infotext (``Negative prompt: ...``, ``Steps: 20, Sampler: ...``) pasted into the prompt.

    Why: the settings line and the negative prompt are then part of the positive prompt: the model reads
    "steps", "sampler", "cfg scale" and every negative tag as things to draw. Paste only the first line, or
    give the whole infotext to ``promptkit lint FILE``, which splits it.

    Example: ``1girl, smile Negative prompt: lowres Steps: 20, Sampler: Euler a`` -> ``1girl, smile``.
    """

    code = "PK110"
    name = "pasted-infotext"
    category = "syntax"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        text = ctx.text
        if "Negative prompt:" not in text and "Steps: " not in text:
            return
        m = _INFOTEXT.search(text)
        if m is None:
            return
        start = m.start(1)
        what = "a negative prompt and generation settings" if m.group(1).startswith("Negative") else \
            "generation settings"
        yield self.diagnostic(f"{what} from an A1111 infotext are part of this prompt; the model reads them as text",
                              start, len(text.rstrip()))
