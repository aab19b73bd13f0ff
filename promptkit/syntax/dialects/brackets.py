"""The lenient parser shared by the bracket dialects: A1111/Forge, ComfyUI and NovelAI.

These dialects differ only in which brackets mean what (``( )`` x1.1 and ``[ ]`` /1.1 in A1111, ``{ }``
x1.05 in NovelAI, ``[ ]`` plain text in ComfyUI), in whether ``(x:1.2)`` multiplies or replaces the outer
weight, and in the extras each knows (schedules, extra networks, ``embedding:``). A :class:`BracketDialect`
holds those facts; :func:`parse_brackets` turns text into the shared tree in one linear pass.

Like A1111 itself this never fails: an unmatched closer is text, an unclosed opener applies to the end.
For A1111 the pass also replays ``parse_prompt_attention`` exactly (two independent bracket stacks,
``multiply_range`` in A1111's order), so :meth:`Prompt.weighted` returns what A1111 returns, bit for bit.
The lexical rules live in one scanner regex per dialect; the matching lark grammar in ``grammars/`` declares
the same terminals and is used by strict mode (:mod:`promptkit.syntax.strict`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..ast import (
    Alternation,
    And,
    Break,
    Embedding,
    ExtraNetwork,
    Group,
    Node,
    Schedule,
    Separator,
    Text,
)

RE_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)
_RE_PIECE_DELIM = re.compile(r"[,\n|]|\bAND\b")
_RE_SEPARATORS = re.compile(r"[,\n|]")
_RE_SCHEDULE_WHEN = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*$")

PLAIN, ESCAPE, BACKSLASH, STRAY, COLON, PIPE = (
    Text.PLAIN, Text.ESCAPE, Text.BACKSLASH, Text.STRAY, Text.COLON, Text.PIPE,
)


@dataclass(frozen=True)
class BracketDialect:
    """The facts that make one bracket dialect differ from another."""

    name: str
    token: re.Pattern[str]
    openers: dict[str, tuple[str, float]]  # opening char -> (group kind, multiplier)
    closers: dict[str, str]  # closing char -> opening char
    absolute_weights: bool = False  # ComfyUI: (x:1.2) sets 1.2 instead of multiplying
    schedules: bool = False  # A1111: [a:b:when] and [a|b]
    a1111_weighting: bool = False  # replay parse_prompt_attention exactly
    keywords: bool = False  # BREAK and AND are syntax (A1111/Forge only; text elsewhere)
    extras: tuple[str, ...] = field(default_factory=tuple)


def _token_regex(escapes: str, openers: str, closers: str, weight_close: bool, networks: bool,
                 embedding: bool, nai_weights: bool) -> re.Pattern[str]:
    """One scanner regex (named alternatives, tried in order) for a bracket dialect."""
    specials = re.escape("\\" + openers + closers + ":<")
    parts = [rf"(?P<esc>\\[{re.escape(escapes)}])"]
    parts.append(r"(?P<bs>\\)")
    if nai_weights:
        # A weight opens only where a tag starts, so "v2-39000::" stays text.
        parts.append(r"(?<![^\s,{}\[\]:])(?P<naiopen>-?(?:\d+\.?\d*|\.\d+)::)")
        parts.append(r"(?P<naiclose>::)")
    parts.append(rf"(?P<open>[{re.escape(openers)}])")
    if weight_close:
        parts.append(r"(?P<wclose>:\s*([+-]?[.\d]+)\s*\))")
    parts.append(rf"(?P<close>[{re.escape(closers)}])")
    if networks:
        parts.append(r"(?P<net><(\w+):([^<>()\[\]\\]+)>)")
    if embedding:
        parts.append(r"(?P<emb>embedding:[^\s,()\\:<>]+)")
        text = rf"(?P<text>(?:[^{specials}e\d.-]|e(?!mbedding:)|[\d.-](?![\d.]*::))+)" if nai_weights else \
            rf"(?P<text>(?:[^{specials}e]|e(?!mbedding:))+)"
    elif nai_weights:
        text = rf"(?P<text>(?:[^{specials}\d.-]|[\d.-](?![\d.]*::))+)"
    else:
        text = rf"(?P<text>[^{specials}]+)"
    parts.append(text)
    parts.append(r"(?P<lt><)")
    parts.append(r"(?P<colon>:)")
    parts.append(r"(?P<char>.)")  # anything the rules above leave over is text: no character is ever lost
    return re.compile("|".join(parts), re.S)


A1111 = BracketDialect(
    name="a1111",
    token=_token_regex(escapes="()[]\\", openers="([", closers=")]", weight_close=True, networks=True,
                       embedding=False, nai_weights=False),
    openers={"(": ("round", 1.1), "[": ("square", 1 / 1.1)},
    closers={")": "(", "]": "["},
    schedules=True,
    a1111_weighting=True,
    keywords=True,
)

COMFY = BracketDialect(
    name="comfy",
    token=_token_regex(escapes="()", openers="(", closers=")", weight_close=True, networks=False,
                       embedding=True, nai_weights=False),
    openers={"(": ("round", 1.1)},
    closers={")": "("},
    absolute_weights=True,
)

NOVELAI = BracketDialect(
    name="novelai",
    token=_token_regex(escapes="{}[]()\\:", openers="{[", closers="}]", weight_close=False, networks=False,
                       embedding=False, nai_weights=True),
    openers={"{": ("curly", 1.05), "[": ("square", 1 / 1.05)},
    closers={"}": "{", "]": "["},
)


class ParseResult:
    """What a dialect parser hands to :class:`~promptkit.syntax.prompt.Prompt`."""

    __slots__ = ("children", "weighted_leaves")

    def __init__(self, children: list[Node], weighted_leaves: list | None) -> None:
        self.children = children
        # A1111 only: [(leaf, weight)] exactly as parse_prompt_attention weights them, before merging.
        self.weighted_leaves = weighted_leaves


def _emit_plain(text: str, pos: int, out: list[Node], keywords: bool = True) -> None:
    """Split a run of literal text at commas, newlines, pipes and (A1111) ``AND`` into nodes."""
    if not ("," in text or "\n" in text or "|" in text or (keywords and "AND" in text)):
        if text:
            out.append(Text(pos, pos + len(text), text, text))
        return
    last = 0
    for m in (_RE_PIECE_DELIM if keywords else _RE_SEPARATORS).finditer(text):
        s, e = m.span()
        if s > last:
            piece = text[last:s]
            out.append(Text(pos + last, pos + s, piece, piece))
        d = m.group()
        if d == "|":
            out.append(Text(pos + s, pos + e, d, d, PIPE))
        elif d == "AND":
            out.append(And(pos + s, pos + e, d))
        else:
            out.append(Separator(pos + s, pos + e, d))
        last = e
    if last < len(text):
        piece = text[last:]
        out.append(Text(pos + last, pos + len(text), piece, piece))


def _emit_text(text: str, pos: int, out: list[Node], keywords: bool = True) -> None:
    """A run of text as A1111 sees it: ``BREAK`` (with the whitespace its regex takes) first, then pieces."""
    if not keywords:
        _emit_plain(text, pos, out, False)
        return
    if "BREAK" not in text:
        _emit_plain(text, pos, out)
        return
    last = 0
    for m in RE_BREAK.finditer(text):
        s, e = m.span()
        _emit_plain(text[last:s], pos + last, out)
        out.append(Break(pos + s, pos + e, m.group()))
        last = e
    _emit_plain(text[last:], pos + last, out)


def parse_brackets(text: str, dialect: BracketDialect) -> ParseResult:
    """Parse ``text`` leniently into the shared tree (see the module docstring)."""
    root: list[Node] = []
    cur = root
    stack: list[Group] = []  # open groups, innermost last
    openers = dialect.openers
    closers = dialect.closers
    replay = dialect.a1111_weighting
    keywords = dialect.keywords
    # A1111's own bookkeeping: leaves with weights and one stack per bracket type.
    leaves: list[Node] = []
    weights: list[float] = []
    a_round: list[int] = []
    a_square: list[int] = []

    def multiply_range(start: int, factor: float) -> None:
        for p in range(start, len(weights)):
            weights[p] *= factor

    def close_group(opener: str, end: int, close: str) -> Group | None:
        """Close the innermost open group of this opener, implicitly ending any opened inside it."""
        nonlocal cur
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth].open[-1:] == opener or (opener == "::" and stack[depth].kind == "nai_weight"):
                break
        else:
            return None
        while len(stack) > depth + 1:
            inner = stack.pop()
            inner.end = end  # crossing brackets: this one stays "unclosed" in the tree
        group = stack.pop()
        group.closed = True
        group.close = close
        group.end = end + len(close)
        cur = stack[-1].children if stack else root
        return group

    n_before = 0
    for m in dialect.token.finditer(text):
        kind = m.lastgroup
        s, e = m.span()
        if kind == "text":
            n_before = len(cur)
            _emit_text(m.group(), s, cur, keywords)
            if replay:
                for node in cur[n_before:]:
                    if isinstance(node, Break):
                        leaves.append(EMPTY_FRAGMENT)
                        weights.append(1.0)
                        leaves.append(node)
                        weights.append(-1.0)
                        leaves.append(EMPTY_FRAGMENT)
                        weights.append(1.0)
                    else:
                        leaves.append(node)
                        weights.append(1.0)
            continue
        tok = m.group()
        if kind == "open":
            group_kind, mult = openers[tok]
            group = Group(s, group_kind, tok, mult)
            cur.append(group)
            stack.append(group)
            cur = group.children
            if replay:
                (a_round if tok == "(" else a_square).append(len(weights))
            continue
        if kind == "close":
            opener = closers[tok]
            if replay:
                a_stack = a_round if tok == ")" else a_square
                if not a_stack:
                    node = Text(s, e, tok, tok, STRAY)
                    cur.append(node)
                    leaves.append(node)
                    weights.append(1.0)
                    continue
                multiply_range(a_stack.pop(), 1.1 if tok == ")" else 1 / 1.1)
            group = close_group(opener, s, tok)
            if group is None:
                # Nothing open in the tree. For A1111 this can still be a real closer whose group the tree
                # already ended (crossing brackets like "([a)]"): then it is no text for weighting either.
                cur.append(Text(s, e, tok, tok, STRAY))
            elif group.kind == "square" and dialect.schedules:
                _maybe_schedule(group, cur)
            continue
        if kind == "wclose":
            number = m.group(m.lastindex + 1) if m.lastindex is not None else None
            try:
                weight = float(number) if number is not None else None
            except ValueError:
                weight = None
            has_round = bool(a_round) if replay else any(g.open == "(" for g in stack)
            if weight is None or not has_round:
                # Text for A1111 (a weight with no open bracket, or a number float() rejects).
                node = Text(s, e, tok, tok, STRAY)
                cur.append(node)
                if replay:
                    leaves.append(node)
                    weights.append(1.0)
                continue
            if replay:
                multiply_range(a_round.pop(), weight)
            group = close_group("(", s, tok)
            if group is None:  # crossing brackets: A1111 closed a group the tree already ended
                cur.append(Text(s, e, tok, tok, STRAY))
            else:
                group.kind = "weight"
                group.multiplier = weight
                group.absolute = dialect.absolute_weights
            continue
        if kind == "esc":
            node = Text(s, e, tok, tok[1], ESCAPE)
        elif kind == "bs":
            follows = text[e:e + 1]
            node = Text(s, e, tok, "" if follows in (":", "|") else "\\", BACKSLASH)
        elif kind == "colon":
            node = Text(s, e, tok, tok, COLON)
        elif kind == "lt" or kind == "char":
            node = Text(s, e, tok, tok)
        elif kind == "net":
            body = m.group(m.lastindex + 2) if m.lastindex is not None else ""
            args = body.split(":")
            node = ExtraNetwork(s, e, tok, m.group(m.lastindex + 1).lower(), args[0], args[1:])
        elif kind == "emb":
            node = Embedding(s, e, tok, tok[len("embedding:"):])
        elif kind == "naiopen":
            group = Group(s, "nai_weight", tok, float(tok[:-2]))
            group.absolute = False
            cur.append(group)
            stack.append(group)
            cur = group.children
            continue
        elif kind == "naiclose":
            if close_group("::", s, tok) is None:
                node = Text(s, e, tok, tok, STRAY)
            else:
                continue
        else:  # pragma: no cover - every alternative of the scanner is handled above
            raise AssertionError(kind)
        cur.append(node)
        if replay:
            leaves.append(node)
            weights.append(1.0)

    end = len(text)
    for group in stack:
        group.end = end
    if replay:
        for pos in a_round:
            multiply_range(pos, 1.1)
        for pos in a_square:
            multiply_range(pos, 1 / 1.1)
        return ParseResult(root, list(zip(leaves, weights)))
    return ParseResult(root, None)


EMPTY_FRAGMENT = Text(0, 0, "", "")  # the empty fragments A1111's BREAK split leaves around "BREAK"


def _maybe_schedule(group: Group, parent: list[Node]) -> None:
    """Turn a closed ``[ ]`` group into a Schedule or Alternation when its content has that shape."""
    children = group.children
    colons = [i for i, n in enumerate(children) if type(n) is Text and n.kind == COLON]
    pipes = [i for i, n in enumerate(children) if type(n) is Text and n.kind == PIPE]
    node: Node | None = None
    if pipes and not colons:
        options: list[list[Node]] = []
        last = 0
        for i in pipes:
            options.append(children[last:i])
            last = i + 1
        options.append(children[last:])
        node = Alternation(group.start, group.end, group.open, group.close, children, options)
    elif colons and not pipes and len(colons) <= 2:
        tail = children[colons[-1] + 1:]
        if tail and all(type(n) is Text and n.kind == PLAIN for n in tail):
            when_raw = "".join(n.raw for n in tail)  # type: ignore[attr-defined]
            match = _RE_SCHEDULE_WHEN.match(when_raw)
            if match:
                if len(colons) == 2:
                    before = children[:colons[0]]
                    after = children[colons[0] + 1:colons[1]]
                else:
                    before, after = [], children[:colons[0]]
                node = Schedule(group.start, group.end, group.open, group.close, children, before, after,
                                float(match.group(1)), when_raw)
    if node is not None:
        parent[parent.index(group)] = node


def a1111_fragments(weighted_leaves: list) -> list[tuple[str, float]]:
    """Merge replayed leaves into A1111's ``parse_prompt_attention`` result."""
    res: list[list] = []
    for node, weight in weighted_leaves:
        t = type(node)
        if t is Text:
            value = "" if node.kind == BACKSLASH else (node.value if node.kind == ESCAPE else node.raw)
        elif t is Break:
            value = "BREAK"
        else:
            value = node.raw
        if res and res[-1][1] == weight:
            res[-1][0] += value
        else:
            res.append([value, weight])
    if not res:
        return [("", 1.0)]
    return [(text, weight) for text, weight in res]
