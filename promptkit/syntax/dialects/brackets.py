"""The lenient parser shared by the bracket dialects: A1111/Forge and NovelAI.

These dialects differ only in which brackets mean what (``( )`` x1.1 and ``[ ]`` /1.1 in A1111, ``{ }``
x1.05 and ``1.2::x::`` in NovelAI) and in the extras each knows (schedules, extra networks, BREAK and AND).
A :class:`BracketDialect` holds those facts; :func:`parse_brackets` turns text into the shared tree in one
linear pass and collects the tags on the way. (ComfyUI reads brackets its own way: ``dialects/comfy.py``.)

Like A1111 itself this never fails: an unmatched closer is text, an unclosed opener applies to the end.
A1111 decides what is text with its own two bracket stacks, which the pass keeps as counts;
:func:`a1111_weighted_leaves` later replays ``parse_prompt_attention`` over the tree (``multiply_range`` in
A1111's order), so :meth:`Prompt.weighted` returns what A1111 returns, bit for bit.

The lexical rules live in one scanner regex per dialect; the matching lark grammar in ``grammars/`` declares
the same terminals and is used by strict mode (:mod:`promptkit.syntax.strict`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import repeat
from operator import mul
from typing import Iterator

from ..ast import (
    Alternation,
    And,
    Break,
    ExtraNetwork,
    Group,
    Node,
    Schedule,
    Separator,
    Text,
)
from ..tag_list import tag_from_pieces

RE_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)  # A1111's pattern (break_spans finds the same matches)
_RE_BREAK_WORD = re.compile(r"\bBREAK\b")
WEIGHT_CLOSE = r":\s*([+-]?[.\d]+)\s*\)"  # A1111's "(x:1.2)" closer; the group is the number
_RE_PIECE_DELIM = re.compile(r"[,\n|]|\bAND\b")
_RE_SEPARATORS = re.compile(r"[,\n|]")
# lark's SIGNED_NUMBER, written so that no digit can be matched two ways (``\d+\.?\d*`` backtracks quadratically
# on a long run of digits that is not a number)
_RE_SCHEDULE_WHEN = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*$")

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
    schedules: bool = False  # A1111: [a:b:when] and [a|b]
    a1111_weighting: bool = False  # A1111's bracket stacks decide what is text; weighted() replays its weights
    keywords: bool = False  # BREAK and AND are syntax (A1111/Forge only; text elsewhere)
    extras: tuple[str, ...] = field(default_factory=tuple)


def _token_regex(escapes: str, openers: str, closers: str, weight_close: bool, networks: bool,
                 nai_weights: bool) -> re.Pattern[str]:
    """One scanner regex (named alternatives, tried in order) for a bracket dialect."""
    specials = re.escape("\\" + openers + closers + ":<")
    parts = [rf"(?P<esc>\\[{re.escape(escapes)}])"]
    parts.append(r"(?P<bs>\\)")
    if nai_weights:
        # A weight opens only where a tag starts, so "v2-39000::" stays text.
        parts.append(r"(?<![^\s,{}\[\]:])(?P<naiopen>-?(?:\d+(?:\.\d*)?|\.\d+)::)")
        parts.append(r"(?P<naiclose>::)")
    parts.append(rf"(?P<open>[{re.escape(openers)}])")
    if weight_close:
        parts.append(rf"(?P<wclose>{WEIGHT_CLOSE})")
    parts.append(rf"(?P<close>[{re.escape(closers)}])")
    if networks:
        parts.append(r"(?P<net><(\w+):([^<>()\[\]\\]+)>)")
    if nai_weights:
        # Digits and dots are their own token (below), so that "1.5::" can open a weight where a tag starts;
        # the scanner joins neighbouring text tokens into one run again.
        text = rf"(?P<text>(?:[^{specials}\d.-]|-(?![\d.]*::))+)"
    else:
        text = rf"(?P<text>[^{specials}]+)"
    parts.append(text)
    if nai_weights:
        parts.append(r"(?P<digits>[\d.]+)")  # digits that open no weight: text
    parts.append(r"(?P<lt><)")
    parts.append(r"(?P<colon>:)")
    parts.append(r"(?P<char>.)")  # anything the rules above leave over is text: no character is ever lost
    return re.compile("|".join(parts), re.S)


A1111 = BracketDialect(
    name="a1111",
    token=_token_regex(escapes="()[]\\", openers="([", closers=")]", weight_close=True, networks=True,
                       nai_weights=False),
    openers={"(": ("round", 1.1), "[": ("square", 1 / 1.1)},
    closers={")": "(", "]": "["},
    schedules=True,
    a1111_weighting=True,
    keywords=True,
)

NOVELAI = BracketDialect(
    name="novelai",
    token=_token_regex(escapes="{}[]()\\:", openers="{[", closers="}]", weight_close=False, networks=False,
                       nai_weights=True),
    openers={"{": ("curly", 1.05), "[": ("square", 1 / 1.05)},
    closers={"}": "{", "]": "["},
)


class ParseResult:
    """What a dialect parser hands to :class:`~promptkit.syntax.prompt.Prompt`."""

    __slots__ = ("children", "tag_columns")

    def __init__(self, children: list[Node], tag_columns: TagColumns | None) -> None:
        self.children = children
        # The tags, collected while the tree was built; None when they are taken from the finished tree.
        self.tag_columns = tag_columns


class TagColumns:
    """Tags as the parser finds them: source text, unescaped text, start, and the groups around each."""

    __slots__ = ("raws", "texts", "starts", "chains")

    def __init__(self) -> None:
        self.raws: list[str] = []
        self.texts: list[str] = []
        self.starts: list[int] = []
        self.chains: list = []  # linked lists (innermost group, outer chain) or None; see prompt.fold_weight


def parse_brackets(text: str, dialect: BracketDialect) -> ParseResult:
    """Parse ``text`` leniently into the shared tree (see the module docstring), collecting its tags."""
    root: list[Node] = []
    cur = root
    stack: list[Group] = []  # open groups, innermost last
    chains: list = [None]  # chains[-1]: the groups around ``cur`` as a linked list, innermost first
    openers = dialect.openers
    closers = dialect.closers
    keywords = dialect.keywords
    a1111 = dialect.a1111_weighting
    a_round = 0  # A1111's count of open "(" (its stack of them, as far as deciding text vs syntax goes)
    a_square = 0
    made_schedule = False

    # The tag being read is a run of Text nodes in one node list; anything else ends it.
    tags = TagColumns()
    raws, texts, starts, tag_chains = tags.raws, tags.texts, tags.starts, tags.chains
    pending: list[Text] = []

    def end_tag() -> None:
        if made_schedule:  # the tags will come from the finished tree (see the end): collect nothing
            pending.clear()
            return
        if len(pending) == 1 and pending[0].kind == PLAIN:  # raw is value: the span follows from the text
            first = pending[0]
            value = first.value
            stripped = value.strip()
            if stripped is value:  # no padding: the tag starts where the node does (one int object, not two)
                found = (value, value, first.start)
            else:
                found = (stripped, stripped, first.start + len(value) - len(value.lstrip())) if stripped else None
        else:
            found = tag_from_pieces(pending, text)
        if found is not None:
            raws.append(found[0])
            texts.append(found[1])
            starts.append(found[2])
            tag_chains.append(chains[-1])
        pending.clear()

    def add_text(node: Text) -> None:
        """A Text node: part of the tag being read."""
        cur.append(node)
        pending.append(node)

    def emit_pieces(run: str, pos: int, stop: int) -> None:
        """A run of literal text split at commas, newlines, pipes and (A1111) ``AND``; ``stop`` is where it ends
        (``pos + len(run)``, the int object the next token starts at)."""
        if not ("," in run or "\n" in run or "|" in run or (keywords and "AND" in run)):
            add_text(Text(pos, stop, run, run))
            return
        if "|" in run or (keywords and "AND" in run):
            last = 0
            for m in (_RE_PIECE_DELIM if keywords else _RE_SEPARATORS).finditer(run):
                s, e = m.span()
                if s > last:
                    piece = run[last:s]
                    add_text(Text(pos + last, pos + s, piece, piece))
                d = m.group()
                if d == "|":
                    add_text(Text(pos + s, pos + e, d, d, PIPE))
                else:
                    if pending:
                        end_tag()
                    cur.append(And(pos + s, pos + e, d) if d == "AND" else Separator(pos + s, pos + e, d))
                last = e
            if last < len(run):
                piece = run[last:]
                add_text(Text(pos + last, pos + len(run), piece, piece))
            return
        # Only commas and newlines: both one character, so split at both at once. The first piece may continue
        # the tag being read and the last may go on after the run; every piece between is a whole tag.
        # Each offset is one int object shared by the nodes that meet there (an int is 32 bytes; text with a
        # node every character or two would otherwise spend more on offsets than on nodes).
        pieces = (run.replace("\n", ",") if "\n" in run else run).split(",")
        last_index = len(pieces) - 1
        piece = pieces[0]
        if piece:
            end = pos + len(piece)
            node = Text(pos, end, piece, piece)
            cur.append(node)
            pending.append(node)
            pos = end
        if pending:
            end_tag()
        end = pos + 1
        if end == stop:
            end = stop
        cur.append(Separator(pos, end, text[pos]))
        pos = end
        chain = chains[-1]
        for i in range(1, last_index):
            piece = pieces[i]
            if piece:
                end = pos + len(piece)
                cur.append(Text(pos, end, piece, piece))
                stripped = piece.strip()
                if stripped and not made_schedule:  # what end_tag records for one plain piece, inline (hot path)
                    raws.append(stripped)
                    texts.append(stripped)
                    starts.append(pos if stripped is piece else pos + len(piece) - len(piece.lstrip()))
                    tag_chains.append(chain)
                pos = end
            end = pos + 1
            cur.append(Separator(pos, end if end != stop else stop, text[pos]))
            pos = end
        piece = pieces[last_index]
        if piece:
            node = Text(pos, stop, piece, piece)
            cur.append(node)
            pending.append(node)

    # Where each kind of opener sits in ``stack`` (depth indices, innermost last), so that a closer finds its
    # group without searching the stack: ``[[[...}}}`` is linear.
    open_depths: dict[str, list[int]] = {"::": []}
    open_depths.update((opener, []) for opener in openers)
    stack_keys: list[str] = []  # the closer-matching key of every group in ``stack``

    def open_group(group: Group, key: str) -> None:
        nonlocal cur
        if pending:
            end_tag()
        cur.append(group)
        open_depths[key].append(len(stack))
        stack.append(group)
        stack_keys.append(key)
        chains.append((group, chains[-1]))
        cur = group.children

    def close_group(opener: str, end: int, close: str) -> Group | None:
        """Close the innermost open group of this opener, implicitly ending any opened inside it."""
        nonlocal cur
        depths = open_depths.get(opener)
        if not depths:
            return None
        depth = depths[-1]
        if pending:
            end_tag()
        while len(stack) > depth + 1:
            inner = stack.pop()
            open_depths[stack_keys.pop()].pop()
            chains.pop()
            inner.end = end  # crossing brackets: this one stays "unclosed" in the tree
        group = stack.pop()
        stack_keys.pop()
        depths.pop()
        chains.pop()
        group.closed = True
        group.close = close
        group.end = end + len(close)
        cur = stack[-1].children if stack else root
        return group

    def add(node: Node) -> None:
        """A node that is not text: it ends the tag being read."""
        if pending:
            end_tag()
        cur.append(node)

    def text_run(s: int, e: int) -> None:
        """Literal text ``text[s:e]``: BREAK (A1111), then pieces between separators."""
        run = text[s:e]
        if keywords and "BREAK" in run:
            last = 0
            for bs, be in break_spans(run):
                if bs > last:
                    emit_pieces(run[last:bs], s + last, s + bs)
                add(Break(s + bs, s + be, run[bs:be]))
                last = be
            if last < len(run):
                emit_pieces(run[last:], s + last, e)
        else:
            emit_pieces(run, s, e)

    # The loop below inlines text_run's common case (no BREAK): one call less per text run.

    # Neighbouring plain-text tokens (NovelAI splits text at digit runs, and "<" or a lone character is a
    # token of its own) are one run: one Text node, one string, however many tokens it took.
    run_start = run_end = -1
    last_end = 0  # the end of the previous token: the next one starts at the same int object
    for m in dialect.token.finditer(text):
        kind = m.lastgroup
        s, e = m.span()
        if s == last_end:
            s = last_end
        last_end = e
        if kind == "text" or kind == "digits" or kind == "char" or kind == "lt":
            if run_start < 0:
                run_start = s
            run_end = e
            continue
        if run_start >= 0:
            if keywords and "BREAK" in text[run_start:run_end]:
                text_run(run_start, run_end)
            else:
                emit_pieces(text[run_start:run_end], run_start, run_end)
            run_start = -1
        tok = m.group()
        if kind == "open":
            group_kind, mult = openers[tok]
            open_group(Group(s, group_kind, tok, mult), tok)
            if a1111:
                if tok == "(":
                    a_round += 1
                else:
                    a_square += 1
            continue
        if kind == "close":
            if a1111:
                if (a_round if tok == ")" else a_square) == 0:
                    add_text(Text(s, e, tok, tok, STRAY))  # A1111 reads a closer with nothing open as text
                    continue
                if tok == ")":
                    a_round -= 1
                else:
                    a_square -= 1
            group = close_group(closers[tok], s, tok)
            if group is None:
                # Nothing open in the tree. For A1111 this can still be a real closer whose group the tree
                # already ended (crossing brackets like "([a)]"): then it is no text for weighting either.
                add_text(Text(s, e, tok, tok, STRAY))
            elif group.kind == "square" and dialect.schedules and _maybe_schedule(group, cur) and not made_schedule:
                made_schedule = True
                for column in (raws, texts, starts, tag_chains):
                    column.clear()
            continue
        if kind == "wclose":
            weight = _weight_number(m)
            if weight is None or not (a_round if a1111 else open_depths.get("(")):
                # Text for A1111 (a weight with no open bracket, or a number float() rejects).
                add_text(Text(s, e, tok, tok, STRAY))
                continue
            if a1111:
                a_round -= 1
            group = close_group("(", s, tok)
            if group is None:  # crossing brackets: A1111 closed a group the tree already ended
                add_text(Text(s, e, tok, tok, STRAY))
            else:
                group.kind = "weight"
                group.multiplier = weight
            continue
        if kind == "esc":
            node = Text(s, e, tok, tok[1], ESCAPE)
        elif kind == "bs":
            follows = text[e:e + 1]
            node = Text(s, e, tok, "" if follows in (":", "|") else "\\", BACKSLASH)
        elif kind == "colon":
            node = Text(s, e, tok, tok, COLON)
        elif kind == "net":
            body = m.group(m.lastindex + 2) if m.lastindex is not None else ""
            args = body.split(":")
            add(ExtraNetwork(s, e, tok, m.group(m.lastindex + 1).lower(), args[0], args[1:]))
            continue
        elif kind == "naiopen":
            open_group(Group(s, "nai_weight", tok, float(tok[:-2])), "::")
            continue
        elif kind == "naiclose":
            if close_group("::", s, tok) is not None:
                continue
            node = Text(s, e, tok, tok, STRAY)
        else:  # pragma: no cover - every alternative of the scanner is handled above
            raise AssertionError(kind)
        add_text(node)

    if run_start >= 0:
        text_run(run_start, run_end)
    if pending:
        end_tag()
    end = len(text)
    for group in stack:
        group.end = end
    # A schedule's branches are only known once its "]" is read; its tags come from the finished tree.
    return ParseResult(root, None if made_schedule else tags)


def break_spans(run: str) -> Iterator[tuple[int, int]]:
    """The spans ``RE_BREAK.finditer(run)`` gives (A1111's ``\\s*\\bBREAK\\b\\s*``), found in linear time.

    The regex retries its leading ``\\s*`` at every space of a long whitespace run (quadratic); here each
    ``BREAK`` word is found once and the whitespace around it is taken by hand, never past the previous match.
    """
    last = 0
    n = len(run)
    for m in _RE_BREAK_WORD.finditer(run):
        s, e = m.span()
        while s > last and run[s - 1].isspace():
            s -= 1
        while e < n and run[e].isspace():
            e += 1
        yield s, e
        last = e


def _weight_number(m: re.Match[str]) -> float | None:
    """The number of a scanned ``:1.2)`` closer, or None where ``float()`` rejects it (``:1.2.3)``)."""
    return _float_or_none(m.group(m.lastindex + 1) if m.lastindex is not None else None)


def _float_or_none(number: str | None) -> float | None:
    try:
        return float(number) if number is not None else None
    except ValueError:
        return None


def a1111_weighted_leaves(children: list[Node]) -> tuple[list[Node], list[float]]:
    """Replay A1111's ``parse_prompt_attention`` over a tree: every leaf, and the weight A1111 gives it.

    Two parallel lists (leaves, weights), not a list of pairs: a pair is a 64-byte tuple per leaf.

    A1111 keeps one stack of open ``(`` and one of open ``[`` and multiplies a range of leaves when a closer
    comes. Walking the lossless tree in source order meets every opener and closer in the order A1111 reads
    them: a closed group's closer right after its last child, a closer the tree could not match (crossing
    brackets, ``([a)]``) as a STRAY text that A1111 still reads as a closer when its stack is not empty.

    Each closer multiplies every leaf from its opener to the end, as A1111 does (the same multiplications in
    the same order, so the weights are A1111's bit for bit). That costs the nesting depth per leaf: past
    ``REPLAY_BUDGET`` multiplications per leaf (text at every level of thousands of nested brackets, where
    A1111 itself is quadratic) the ranges are applied through a segment tree instead, in O(log n) each, with
    the same product up to rounding in the last bits.
    """
    leaves: list[Node] = []
    events: list[tuple[int, int, float]] = []  # (first leaf, leaves then, factor) of every multiply_range
    a_round: list[int] = []
    a_square: list[int] = []

    def close(a_stack: list[int], factor: float) -> None:  # A1111's multiply_range, recorded
        events.append((a_stack.pop(), len(leaves), factor))

    record = events.append
    square_factor = 1 / 1.1

    # The walk's stack as two lists (iterators, their containers): no tuple per level of nesting.
    stack: list[Iterator[Node]] = [iter(children)]
    containers: list[Node | None] = [None]
    while stack:
        it = stack[-1]
        for node in it:
            t = type(node)
            if t is Group or t is Schedule or t is Alternation:
                (a_round if node.open == "(" else a_square).append(len(leaves))  # type: ignore[attr-defined]
                stack.append(iter(node.children))  # type: ignore[attr-defined]
                containers.append(node)
                break
            if t is Break:
                leaves += (EMPTY_FRAGMENT, node, EMPTY_FRAGMENT)
                continue
            if t is Text and node.kind == STRAY:  # type: ignore[attr-defined]
                raw = node.raw  # type: ignore[attr-defined]
                if raw == ")" and a_round:
                    close(a_round, 1.1)
                    continue
                if raw == "]" and a_square:
                    close(a_square, 1 / 1.1)
                    continue
                if raw[0] == ":" and a_round:
                    m = _RE_WEIGHT_CLOSE.fullmatch(raw)
                    weight = _float_or_none(m.group(1)) if m else None
                    if weight is not None:
                        close(a_round, weight)
                        continue
            leaves.append(node)
        else:
            stack.pop()
            container = containers.pop()
            if container is None:
                continue
            if type(container) is not Group:  # a schedule or alternation: A1111 reads "[ ]"
                record((a_square.pop(), len(leaves), square_factor))
            elif container.closed:  # type: ignore[attr-defined]
                record(((a_round if container.open == "(" else a_square).pop(),  # type: ignore[attr-defined]
                        len(leaves), container.multiplier))  # type: ignore[attr-defined]
    n = len(leaves)
    for pos in a_round:  # unclosed brackets apply to the end: round ones first, then square
        events.append((pos, n, 1.1))
    for pos in a_square:
        events.append((pos, n, 1 / 1.1))
    weights = [1.0] * n
    for i, leaf in enumerate(leaves):
        if type(leaf) is Break:
            weights[i] = -1.0
    work = sum(stop - first for first, stop, _ in events)
    if work <= REPLAY_BUDGET * n + 4096:
        for first, stop, factor in events:
            if stop - first > 8:  # the same products, in a C-level map
                weights[first:stop] = map(mul, weights[first:stop], repeat(factor))
            else:
                for p in range(first, stop):
                    weights[p] *= factor
    else:
        _apply_ranges(weights, events)
    return leaves, weights


REPLAY_BUDGET = 32  # multiplications per leaf done in A1111's own order


def _apply_ranges(weights: list[float], events: list[tuple[int, int, float]]) -> None:
    """Multiply ``weights[first:stop]`` by ``factor`` for every event, in O((n + events) log n)."""
    n = len(weights)
    if not n:
        return
    tags = [1.0] * (2 * n)  # an iterative segment tree of pending factors
    for first, stop, factor in events:
        lo, hi = first + n, stop + n
        while lo < hi:
            if lo & 1:
                tags[lo] *= factor
                lo += 1
            if hi & 1:
                hi -= 1
                tags[hi] *= factor
            lo >>= 1
            hi >>= 1
    for i in range(n):
        w = weights[i]
        p = i + n
        while p:
            w *= tags[p]
            p >>= 1
        weights[i] = w


_RE_WEIGHT_CLOSE = re.compile(WEIGHT_CLOSE)


EMPTY_FRAGMENT = Text(0, 0, "", "")  # the empty fragments A1111's BREAK split leaves around "BREAK"


def _maybe_schedule(group: Group, parent: list[Node]) -> bool:
    """Turn a closed ``[ ]`` group into a Schedule or Alternation when its content has that shape."""
    children = group.children
    colons: list[int] = []
    pipes: list[int] = []
    for i, n in enumerate(children):
        if type(n) is Text:
            kind = n.kind
            if kind == COLON:
                colons.append(i)
            elif kind == PIPE:
                pipes.append(i)
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
        if len(tail) == 1:  # the usual "[a:b:0.5]": one Text after the last colon
            last_node = tail[0]
            when_raw = last_node.raw if type(last_node) is Text and last_node.kind == PLAIN else None
        elif tail and all(type(n) is Text and n.kind == PLAIN for n in tail):
            when_raw = "".join(n.raw for n in tail)  # type: ignore[attr-defined]
        else:
            when_raw = None
        if when_raw is not None:
            match = _RE_SCHEDULE_WHEN.match(when_raw)
            if match:
                if len(colons) == 2:
                    before = children[:colons[0]]
                    after = children[colons[0] + 1:colons[1]]
                else:
                    before, after = [], children[:colons[0]]
                node = Schedule(group.start, group.end, group.open, group.close, children, before, after,
                                float(match.group(1)), when_raw)
    if node is None:
        return False
    # The group was just closed, so nothing follows it in its parent yet: no search (which would make a long
    # prompt with many schedules quadratic).
    if parent[-1] is group:
        parent[-1] = node
    else:  # pragma: no cover - defensive
        parent[parent.index(group)] = node
    return True


def a1111_fragments(leaves: list[Node], weights: list[float]) -> list[tuple[str, float]]:
    """Merge replayed leaves (``a1111_weighted_leaves``) into A1111's ``parse_prompt_attention`` result."""
    res: list[tuple[str, float]] = []
    parts: list[str] = []  # the text of the fragment being merged, joined once it ends
    current = 0.0
    for node, weight in zip(leaves, weights):
        t = type(node)
        if t is Text:
            kind = node.kind
            value = "" if kind == BACKSLASH else (node.value if kind == ESCAPE else node.raw)
        elif t is Break:
            value = "BREAK"
        else:
            value = node.raw
        if parts and current == weight:
            parts.append(value)
        else:
            if parts:
                res.append(("".join(parts), current))
                parts = []
            parts.append(value)
            current = weight
    if not parts:
        return [("", 1.0)]
    res.append(("".join(parts), current))
    return res
