"""compel 2.5.1 (InvokeAI, diffusers users), read exactly as compel's own parser reads it.

compel's grammar (``compel/prompt_parser.py``, a pyparsing grammar) decides everything: ``word++`` and
``(a b)1.3`` weights, ``"quoted fragments"``, ``x.attend(0.5)``, ``a.swap(b)`` cross-attention edits,
``withLora(name, 0.5)``, ``("a", "b").blend(0.7, 0.3, no_normalize)`` and ``("a", "b").and()``. Its
surprises are part of the dialect and reproduced here: a word outside parentheses takes every non-space
character (``foo(bar)``, an unclosed ``(a b`` and ``(cat:1.3)`` are text), ``,x`` reads as ``, x``, a
``+`` inside a word is text (``a+b``), a number weights only a group (``cat1.3`` is text), text after
``.and(...)`` is ignored.

The grammar is ordered choice with backtracking (PEG). pyparsing retries a group once per alternative that
starts with it, which is exponential in nesting depth; here each group and quoted string is parsed once per
position (memoized), so reading is linear. One reading serves two consumers:

- the shared tree (:func:`parse_compel`): lossless (what the grammar skips is kept as whitespace, and
  operator text as SYNTAX text), with Group, Swap, Blend and ExtraNetwork nodes;
- compel's flattened conjunction (:func:`compel_conjunction`): fragments with their weights, blends, AND
  parts, swaps and loras, as ``PromptParser().parse_conjunction`` returns them, or :class:`CompelRejects`
  saying what compel rejects, cannot encode, or would silently drop (the encoder refuses those).

A prompt compel rejects is still read leniently into the tree: what compel's grammar cannot take is text.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left
from dataclasses import dataclass, field

from ..ast import Blend, ExtraNetwork, Group, Node, Separator, Swap, Text

WS = " \n\t\r"  # what pyparsing skips before an element
WHITE = " \t\r\n"  # what pp.White() matches
# pp.White() first skips these (every other whitespace pyparsing knows), then needs one of WHITE
WHITE_SKIP = frozenset("\x0c\xa0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
                       "\u200a\u200b\u202f\u205f\u3000")
STR_WS = " \t\n\r\x0b\x0c"  # string.whitespace: never part of a word
SYNTAX = '()",.+-='  # compel's syntactic characters; each can be escaped with a backslash
KEYWORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

_REAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")  # pyparsing_common.real
_INT = re.compile(r"-?[0-9]+")
_QUOTED = re.compile(r'"(?:\\"|[^"\n\r])*"')  # pp.QuotedString('"', esc_char=None, esc_quote='\\"')
_UNQUOTE = re.compile(r"(\\t|\\n|\\f|\\r)|(\\[0-7]{3}|\\0|\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4})|(.)|(\n)")
_WS_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\f": "\f", "\\r": "\r"}
_COMMA_NEEDS_SPACE = re.compile(r",(\S)")
# non_syntax_word: an escaped syntax character, a sign that a word character follows, or any character that is
# neither whitespace nor syntax (tried in that order, as pyparsing's MatchFirst does)
_WORD = re.compile(r'(?:\\[()",.+\-=]|[+\-](?=[^ \t\r\n()",.+\-=])|[^ \t\n\r\x0b\x0c()",.+\-=])+')
_FREE_WORD = re.compile(r"[^ \t\n\r\x0b\x0c]+")

MAX_DEPTH = 100  # deeper parenthesis nesting is read as plain words (compel's own parser takes 4^depth steps)


class CompelRejects(ValueError):
    """compel 2.5.1 rejects this prompt, cannot encode it, or would silently drop part of it."""


# -- what compel's parser builds, with spans in the preprocessed prompt ------------------------------------

class _Frag:
    """compel's ``Fragment``: text to tokenize. ``kind``: a word inside parentheses or quotes, a top-level
    word (any non-space characters), a ``,`` or ``.`` inside parentheses, or the empty text of ``""``."""

    __slots__ = ("text", "start", "end", "kind")
    WORD, FREE, PUNCT, EMPTY = range(4)

    def __init__(self, text: str, start: int, end: int, kind: int) -> None:
        self.text = text
        self.start = start
        self.end = end
        self.kind = kind


class _Paren:
    __slots__ = ("children", "start", "end")

    def __init__(self, children: list, start: int, end: int) -> None:
        self.children = children
        self.start = start
        self.end = end


class _Quote(_Paren):
    __slots__ = ()


class _Attention:
    """``target+``, ``(target)1.2`` or ``target.attend(w)``; ``op_start`` is where the operator begins."""

    __slots__ = ("weight", "target", "start", "end", "op_start", "how")

    def __init__(self, weight: float, target, end: int, op_start: int, how: str) -> None:
        self.weight = weight
        self.target = target
        self.start = target.start
        self.end = end
        self.op_start = op_start
        self.how = how  # "signs" | "number" | "attend"


class _Swap:
    __slots__ = ("target", "edited", "start", "end", "open_end", "edit_end")

    def __init__(self, target, edited: list, end: int, open_end: int, edit_end: int) -> None:
        self.target = target
        self.edited = edited
        self.start = target.start
        self.end = end
        self.open_end = open_end  # just after ".swap("
        self.edit_end = edit_end  # where the replacement stops (options or ")" follow)


class _Lora:
    __slots__ = ("name", "weight", "start", "end", "has_weight")

    def __init__(self, name: str, weight: float, start: int, end: int, has_weight: bool) -> None:
        self.name = name
        self.weight = weight
        self.start = start
        self.end = end
        self.has_weight = has_weight


class _Operator:
    """``( part, part ).blend(options)`` or ``.and(options)``."""

    __slots__ = ("op", "parts", "options", "start", "end", "close_start")

    def __init__(self, op: str, parts: list, options: list, start: int, end: int, close_start: int) -> None:
        self.op = op
        self.parts = parts
        self.options = options
        self.start = start
        self.end = end
        self.close_start = close_start  # the ")" after the last part


def _tokens(target) -> list:
    """The tokens a target contributes (pyparsing drops the parentheses and quotes)."""
    return [target] if type(target) is _Frag else target.children


def _fragment_text(raw: str) -> str:
    """compel's ``Fragment``: ``\\(``, ``\\)`` and ``\\"`` become the character (other escapes stay)."""
    if "\\" in raw and ('\\"' in raw or "\\(" in raw or "\\)" in raw):
        raw = raw.replace("\\(", "(").replace("\\)", ")").replace('\\"', '"')
    return raw


# -- the grammar --------------------------------------------------------------------------------------------

class _State:
    """What every (sub)reader of one prompt shares: the first error compel would raise while parsing."""

    __slots__ = ("fatal",)

    def __init__(self) -> None:
        self.fatal: str | None = None

    def fail(self, message: str) -> None:
        if self.fatal is None:
            self.fatal = message


class _Reader:
    """compel's grammar over one string: the preprocessed prompt, or a quoted fragment's unescaped content.

    Every method takes a position in this string and returns ``(end, item)`` or None, like a pyparsing
    element. Items carry spans in the preprocessed prompt (``top`` maps this string's positions there).
    """

    def __init__(self, s: str, state: _State, top=None) -> None:
        self.s = s
        self.n = len(s)
        self.state = state
        self.top = top  # None: this is the prompt itself; else (starts, ends) of each character there
        self.memo: dict = {}
        self._word_at = -1  # word() is asked about the same position by several alternatives in a row
        self._word = None

    def at(self, x: int) -> int:
        """The prompt position of the start of character ``x`` (the end of the string: its end)."""
        if self.top is None:
            return x
        starts, ends, end = self.top
        return starts[x] if x < len(starts) else end

    def after(self, x: int) -> int:
        """The prompt position just after character ``x - 1``."""
        if self.top is None or x == 0:
            return self.at(x)
        return self.top[1][x - 1]

    # -- terminals --
    def skip(self, p: int) -> int:
        s, n = self.s, self.n
        while p < n and s[p] in WS:
            p += 1
        return p

    def literal(self, p: int, lit: str) -> int | None:
        q = self.skip(p)
        return q + len(lit) if self.s.startswith(lit, q) else None

    def white(self, p: int) -> int | None:
        """``pp.White()``: skips WHITE_SKIP characters, then needs one or more of WHITE."""
        s, n = self.s, self.n
        while p < n and s[p] in WHITE_SKIP:
            p += 1
        q = p
        while q < n and s[q] in WHITE:
            q += 1
        return q if q > p else None

    def signs(self, p: int) -> tuple[int, float] | None:
        """``Word('+') | Word('-')``, as a weight: 1.1 or 0.9 per sign."""
        q = self.skip(p)
        if q < self.n and self.s[q] in "+-":
            c = self.s[q]
            e = q
            while e < self.n and self.s[e] == c:
                e += 1
            try:
                return e, pow(1.1 if c == "+" else 0.9, e - q)
            except OverflowError:  # compel's own pow() raises too
                self.state.fail(f"compel raises OverflowError on a run of {e - q} {c!r} signs")
                return e, float("inf")
        return None

    def number(self, p: int) -> tuple[int, float] | None:
        q = self.skip(p)
        m = _REAL.match(self.s, q) or _INT.match(self.s, q)
        return (m.end(), float(m.group())) if m else None

    def keyword(self, p: int) -> tuple[int, str] | None:
        q = self.skip(p)
        e = q
        while e < self.n and self.s[e] in KEYWORD_CHARS:
            e += 1
        return (e, self.s[q:e]) if e > q else None

    def word(self, p: int):
        """``non_syntax_word``: escapes, non-syntax characters, and a sign followed by a word character."""
        if p == self._word_at:
            return self._word
        self._word_at = p
        self._word = self._scan_word(p)
        return self._word

    def _scan_word(self, p: int):
        q = self.skip(p)
        m = _WORD.match(self.s, q)
        if m is None:
            return None
        i = m.end()
        return i, _Frag(_fragment_text(m.group()), self.at(q), self.after(i), _Frag.WORD)

    def free_word(self, p: int):
        """A top-level word: every character up to whitespace, syntax included."""
        m = _FREE_WORD.match(self.s, p)
        if m is None:
            return None
        i = m.end()
        return i, _Frag(_fragment_text(m.group()), self.at(p), self.after(i), _Frag.FREE)

    # -- groups --
    def paren(self, p: int):
        q = self.skip(p)
        if q >= self.n or self.s[q] != "(":
            return None
        key = ("(", q)
        if key in self.memo:
            return self.memo[key]
        result = None
        items, r = self.content(q + 1, commas=True)
        e = self.literal(r, ")")
        if e is not None:
            result = (e, _Paren(items, self.at(q), self.after(e)))
        self.memo[key] = result
        return result

    def quoted(self, p: int, prompt_grammar: bool = False):
        """``"..."``: the content is unescaped, then parsed again as fragments (or as a whole prompt)."""
        q = self.skip(p)
        if q >= self.n or self.s[q] != '"':
            return None
        key = ('"P' if prompt_grammar else '"', q)
        if key in self.memo:
            return self.memo[key]
        result = None
        m = _QUOTED.match(self.s, q)
        if m is not None:
            e = m.end()
            start, end = self.at(q), self.after(e)
            chars, starts, ends = self._unquote(q + 1, e - 1)
            if not "".join(chars).strip():
                result = (e, _Quote([_Frag("", start + 1, end - 1, _Frag.EMPTY)], start, end))
            else:
                # parse_fragment_str escapes every quote again before parsing the content
                esc_chars, esc_starts, esc_ends = [], [], []
                for ch, a, b in zip(chars, starts, ends):
                    if ch == '"':
                        esc_chars.append("\\")
                        esc_starts.append(a)
                        esc_ends.append(a)
                    esc_chars.append(ch)
                    esc_starts.append(a)
                    esc_ends.append(b)
                sub = _Reader("".join(esc_chars), self.state, (esc_starts, esc_ends, end - 1))
                items, r = sub.prompt(0) if prompt_grammar else sub.content(0, commas=True)
                if sub.skip(r) == sub.n:
                    result = (e, _Quote(items, start, end))
        self.memo[key] = result
        return result

    def _unquote(self, a: int, b: int) -> tuple[list[str], list[int], list[int]]:
        """pyparsing's unquoting of ``s[a:b]``: ``\\t`` and friends and numeric escapes become characters,
        then ``\\"`` becomes ``"``. Each character keeps the prompt span it came from."""
        raw = self.s[a:b]
        if "\\" not in raw:
            return list(raw), [self.at(i) for i in range(a, b)], [self.after(i + 1) for i in range(a, b)]
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for m in _UNQUOTE.finditer(raw):
            g = m.group()
            if m.group(1):
                ch = _WS_ESCAPES[g]
            elif m.group(2):
                ch = _numeric_escape(g[1:])
            else:
                ch = g[-1]
            if ch == '"' and chars and chars[-1] == "\\":
                chars[-1] = '"'  # the escaped quote
                ends[-1] = self.after(a + m.end())
                continue
            chars.append(ch)
            starts.append(self.at(a + m.start()))
            ends.append(self.after(a + m.end()))
        return chars, starts, ends

    def target(self, p: int):
        """``potential_operator_target``: a quoted fragment, a parenthesized fragment or a word."""
        return self.quoted(p) or self.paren(p) or self.word(p)

    # -- operators --
    def attention(self, p: int):
        t = self.target(p)
        if t is not None:  # target.attend(+) / target.attend(0.5)
            e = self.literal(t[0], ".attend")
            if e is not None:
                e2 = self.literal(e, "(")
                if e2 is not None:
                    op = self.signs(e2) or self.number(e2)
                    if op is not None:
                        e3 = self.literal(op[0], ")")
                        if e3 is not None:
                            return e3, _Attention(op[1], t[1], self.after(e3), self.after(t[0]), "attend")
        g = self.quoted(p) or self.paren(p)
        if g is not None:  # (group)+ / (group)1.2: no whitespace before the operator
            if self.white(g[0]) is None:
                op, how = self.signs(g[0]), "signs"
                if op is None:
                    op, how = self.number(g[0]), "number"
                if op is not None:
                    return op[0], _Attention(op[1], g[1], self.after(op[0]), self.after(g[0]), how)
            return None
        w = self.word(p)
        if w is not None and self.white(w[0]) is None:  # word++ (a word takes no number)
            op = self.signs(w[0])
            if op is not None:
                return op[0], _Attention(op[1], w[1], self.after(op[0]), self.after(w[0]), "signs")
        return None

    def swap(self, p: int):
        t = self.target(p)
        if t is None:
            return None
        e = self.literal(t[0], ".swap")
        e = self.literal(e, "(") if e is not None else None
        if e is None:
            return None
        edited, r = self.content(e, commas=False)
        after = r
        options: list = []
        c = self.literal(r, ",")
        if c is not None:
            after, options = self.options(c)
        end = self.literal(after, ")")
        if end is None:
            return None
        _check_swap_options(options, self.state)
        return end, _Swap(t[1], edited, self.after(end), self.after(e), self.after(r))

    def lora(self, p: int):
        q = self.skip(p)
        e = self.literal(q, "useLora")
        if e is None:
            e = self.literal(q, "withLora")
        e = self.literal(e, "(") if e is not None else None
        k = self.keyword(e) if e is not None else None
        if k is None:
            return None
        e, name = k
        weight, has_weight = 1.0, False
        c = self.literal(e, ",")
        if c is not None:
            num = self.number(c)
            if num is not None:
                e, weight = num
                has_weight = True
        end = self.literal(e, ")")
        if end is None:
            return None
        return end, _Lora(name, weight, self.at(q), self.after(end), has_weight)

    def option(self, p: int):
        """``name=value`` | a number | a flag, as pyparsing's group: (first token, value or None/"")."""
        k = self.keyword(p)
        if k is not None:
            eq = self.literal(k[0], "=")
            if eq is not None:
                v = self.number(eq) or self.keyword(eq)
                if v is not None:
                    return v[0], (k[1], v[1])
        num = self.number(p)
        if num is not None:
            return num[0], (str(num[1]), None)
        if k is not None:
            return k[0], (k[1], "")
        return None

    def options(self, p: int) -> tuple[int, list]:
        """``DelimitedList(option)``, optional: ``(end, [(first, value), ...])``."""
        o = self.option(p)
        if o is None:
            return p, []
        end, out = o[0], [o[1]]
        while True:
            c = self.literal(end, ",")
            o = self.option(c) if c is not None else None
            if o is None:
                return end, out
            end = o[0]
            out.append(o[1])

    # -- sequences --
    def part(self, p: int, commas: bool):
        """One element of a fragment (inside parentheses or quotes, or a swap's replacement)."""
        if self.plain_at(p):
            r = self.word(p)
        else:
            r = self.lora(p) or self.attention(p) or self.swap(p) or self.paren(p) or self.quoted(p) or self.word(p)
        if r is None and commas:
            q = self.skip(p)
            if q < self.n and self.s[q] in ",.":
                r = q + 1, _Frag(self.s[q], self.at(q), self.after(q + 1), _Frag.PUNCT)
        return r

    def content(self, p: int, commas: bool) -> tuple[list, int]:
        items = []
        while True:
            r = self.part(p, commas)
            if r is None:
                return items, p
            p = r[0]
            items.append(r[1])

    def plain_at(self, p: int) -> bool:
        """True when no operator, group or lora call can start at ``p`` (after whitespace): only a word can.

        A shortcut for the common case, equal to trying every alternative: those all start with a quote, a
        parenthesis, ``useLora``/``withLora``, or a word followed by ``.swap``, ``.attend`` or a sign.
        """
        s = self.s
        q = self.skip(p)
        if q >= self.n:
            return True
        c = s[q]
        if c == "(" or c == '"' or ((c == "u" or c == "w") and (s.startswith("useLora", q) or s.startswith("withLora", q))):
            return False
        w = self.word(q)
        if w is None:
            return True
        e = w[0]
        if e < self.n and s[e] in "+-":
            return False
        r = self.skip(e)
        return not (s.startswith(".swap", r) or s.startswith(".attend", r))

    def prompt(self, p: int) -> tuple[list, int]:
        """compel's ``prompt``: the top-level grammar, where a word takes any non-space characters."""
        items = []
        s, n = self.s, self.n
        while True:
            if p < n and s[p] in WHITE and self.plain_at(p):  # whitespace before a plain word
                p = self.white(p)
                continue
            if p < n and s[p] not in STR_WS and self.plain_at(p):
                r = self.free_word(p)
            else:
                r = (self.swap(p) or self.lora(p) or self.attention(p) or self.quoted(p) or self.paren(p)
                     or self.free_word(p))
            if r is None:
                e = self.white(p)
                if e is None:
                    return items, p
                p = e
                continue
            p = r[0]
            items.append(r[1])

    def operator(self, p: int, names: tuple[str, ...]):
        """``( part, part, ... ).blend(options)`` / ``.and(options)`` / ``.add(options)``."""
        q = self.skip(p)
        if q >= self.n or self.s[q] != "(":
            return None
        parts = []
        e = q + 1
        while True:
            item = self.target(e) or self.quoted(e, prompt_grammar=True)
            if item is None:
                if not parts:
                    return None
                e = last_end  # a delimiter with no item after it is not taken
                break
            parts.append(item[1])
            e = last_end = item[0]
            c = self.literal(e, ",")
            if c is None:
                break
            e = c
        close = self.literal(e, ")")
        if close is None:
            return None
        for name in names:
            o = self.literal(close, name)
            if o is not None:
                break
        else:
            return None
        o = self.literal(o, "(")
        if o is None:
            return None
        after, options = self.options(o)
        end = self.literal(after, ")")
        if end is None:
            return None
        return end, _Operator(name[1:], parts, options, self.at(q), self.after(end), self.at(close - 1))


def _numeric_escape(s: str) -> str:
    if s == "0":
        return "\0"
    if s.isdigit() and len(s) == 3:
        return chr(int(s, 8))
    if s.startswith(("u", "x")):
        return chr(int(s[1:], 16))
    return s


def _check_swap_options(options: list, state: _State) -> None:
    """compel computes ``1 - shape_freedom ** (1/3)``: a shape_freedom that is no number raises TypeError."""
    found, value = False, None
    for name, v in options:
        if name == "shape_freedom":
            found, value = True, v
    if found and not isinstance(value, float):
        state.fail(f"compel raises TypeError on shape_freedom={value!r} in .swap(): it must be a number")


# -- reading a whole prompt -----------------------------------------------------------------------------------

@dataclass
class _Reading:
    """compel's parse of one prompt, and where promptkit's tree differs from compel's acceptance."""

    text: str  # the preprocessed prompt (",x" -> ", x")
    inserted: list[int]  # positions in ``text`` of the spaces the preprocessing inserted
    lead: list = field(default_factory=list)  # loras before the main part
    main: list | _Operator | None = None  # the prompt's items, or its blend / AND
    trail: list = field(default_factory=list)  # loras after a blend, and what compel could not parse
    rest: int = 0  # where compel's parse stopped (== len(text) when it took everything)
    error: str | None = None  # why compel rejects it or would drop part of it

    def source_pos(self, p: int) -> int:
        """A position in the preprocessed prompt -> in the source (inserted spaces have no width)."""
        return p - bisect_left(self.inserted, p)


def _preprocess(source: str) -> tuple[str, list[int]]:
    """compel's ``re.sub(r',(\\S)', r', \\1', prompt)``, with the positions of the spaces it inserts."""
    inserted: list[int] = []
    if "," not in source:
        return source, inserted
    out: list[str] = []
    last = 0
    for m in _COMMA_NEEDS_SPACE.finditer(source):
        out.append(source[last:m.start() + 1])
        inserted.append(m.start() + 1 + len(inserted))
        out.append(" ")
        last = m.start() + 1
    out.append(source[last:])
    return "".join(out), inserted


def _nesting_depth(text: str) -> int:
    depth = best = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
            if depth > best:
                best = depth
        elif c == ")" and depth:
            depth -= 1
        i += 1
    return best


def read(source: str) -> _Reading:
    """Parse ``source`` with compel's grammar (the whole of ``PromptParser.parse_conjunction``'s parse)."""
    text, inserted = _preprocess(source)
    reading = _Reading(text, inserted)
    if not text.strip():
        reading.main = []
        reading.rest = len(text)
        return reading
    if _nesting_depth(text) > MAX_DEPTH:
        reading.main = []
        reading.rest = 0
        reading.error = (f"parentheses nested more than {MAX_DEPTH} deep: compel's parser needs time exponential in "
                         "the depth (4^depth steps) and would not finish")
        return reading
    state = _State()
    reader = _Reader(text, state)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 12 * MAX_DEPTH + 1000))
    try:
        _read_top(reader, reading)
    finally:
        sys.setrecursionlimit(limit)
    if reading.error is None and state.fatal is not None:
        reading.error = state.fatal
    return reading


def _read_top(reader: _Reader, reading: _Reading) -> None:
    n = reader.n
    explicit = reader.operator(0, (".and", ".add"))
    if explicit is not None:  # explicit_conjunction: compel ignores whatever follows it
        end, op = explicit
        reading.main = op
        _check_operator(op, reader.state)
        if reader.skip(end) != n:
            reading.error = (f"compel ignores the text after .{op.op}(...): "
                             f"{reader.s[reader.skip(end):][:40]!r} is not encoded")
        _read_rest(reader, reading, end)
        return
    p = 0
    while (lora := reader.lora(p)) is not None:
        p = lora[0]
        reading.lead.append(lora[1])
    blend = reader.operator(p, (".blend",))
    if blend is not None:
        p, op = blend
        reading.main = op
        _check_operator(op, reader.state)
    else:
        reading.main, p = reader.prompt(p)
    while (lora := reader.lora(p)) is not None:
        p = lora[0]
        reading.trail.append(lora[1])
    if reader.skip(p) != n:
        rest = reader.s[reader.skip(p):]
        reading.error = f"compel cannot parse the prompt from {rest[:30]!r} on (column {reader.skip(p) + 1})"
    _read_rest(reader, reading, p)


def _read_rest(reader: _Reader, reading: _Reading, p: int) -> None:
    """What compel's parse did not take, read leniently for the tree: plain words, one odd character at a time."""
    reading.rest = p
    n = reader.n
    while reader.skip(p) < n:
        items, p = reader.prompt(p)
        reading.trail += items
        if p < n and reader.white(p) is None and reader.free_word(p) is None:
            reading.trail.append(_Frag(reader.s[p], p, p + 1, _Frag.FREE))
            p += 1


def _check_operator(op: _Operator, state: _State) -> None:
    """The checks compel's parse actions make on a blend or AND (they raise, failing the whole parse)."""
    raw = list(op.options)
    normalize = True
    if op.op == "blend" and raw and raw[-1][0] == "no_normalize":
        normalize = False
        raw = raw[:-1]
    weights = []
    for first, _ in raw:
        try:
            weights.append(float(first))
        except ValueError:
            state.fail(f"compel raises ValueError on .{op.op}({first}...): its arguments must be numbers")
            return
    if weights and len(weights) != len(op.parts):
        state.fail(f".{op.op}() has {len(op.parts)} parts but {len(weights)} weights")
        return
    if op.op == "blend":
        for part in op.parts:
            if any(type(item) is _Swap for item in _tokens(part)):
                state.fail("compel cannot .swap() inside a .blend()")
                return
    op.options = [(w, None) for w in weights] + ([("no_normalize", "")] if not normalize else [])


def _operator_weights(op: _Operator) -> tuple[list[float], bool]:
    normalize = not (op.options and op.options[-1][0] == "no_normalize")
    weights = [w for w, _ in op.options if w != "no_normalize"]
    return weights, normalize


# -- compel's flattened conjunction ------------------------------------------------------------------------------

@dataclass
class CompelFragment:
    text: str
    weight: float


@dataclass
class CompelSwap:
    """A cross-attention edit: compel's conditioning encodes ``original``; ``edited`` steers attention."""

    original: list[CompelFragment]
    edited: list[CompelFragment]


@dataclass
class CompelBlend:
    prompts: list[list[CompelFragment]]
    weights: list[float]
    normalize: bool


@dataclass
class CompelConjunction:
    """``PromptParser().parse_conjunction(text)``: the parts (fragment lists or a blend) with their weights,
    concatenated by the encoder, and the loras (name, weight) the prompt asks for."""

    parts: list[list[CompelFragment | CompelSwap] | CompelBlend]
    weights: list[float]
    loras: list[tuple[str, float]]


def compel_conjunction(source: str) -> CompelConjunction:
    """compel's reading of ``source``, or :class:`CompelRejects` with the reason compel fails or drops text."""
    reading = read(source)
    if reading.error is not None:
        raise CompelRejects(reading.error)
    if not reading.text.strip():
        return CompelConjunction([[CompelFragment("", 1.0)]], [1.0], [])
    loras: list[tuple[str, float]] = [(lora.name, lora.weight) for lora in reading.lead]
    parts: list = []
    weights: list[float] = []
    main = reading.main
    if type(main) is _Operator and main.op in ("and", "add"):
        op_weights, _ = _operator_weights(main)
        op_weights = op_weights or [1.0] * len(main.parts)
        for part, weight in zip(main.parts, op_weights):
            fused = _fuse(_flatten(_tokens(part), 1.0, loras))
            if fused:
                parts.append(fused)
                weights.append(weight)
    elif type(main) is _Operator:
        op_weights, normalize = _operator_weights(main)
        op_weights = op_weights or [1.0] * len(main.parts)
        prompts = []
        for part in main.parts:
            fused = _fuse(_flatten(_tokens(part), 1.0, loras))
            if fused:
                prompts.append(fused)
        if len(prompts) != len(op_weights):
            raise CompelRejects("a part of this .blend() is empty: compel raises (mismatched prompts/weights)")
        parts.append(CompelBlend(prompts, op_weights, normalize))
        weights.append(1.0)
    else:
        fused = _fuse(_flatten(main, 1.0, loras))
        if fused:
            parts.append(fused)
            weights.append(1.0)
    loras += [(lora.name, lora.weight) for lora in reading.trail if type(lora) is _Lora]
    if not parts:
        raise CompelRejects("this prompt has no text: compel's conditioning of it fails (IndexError)")
    return CompelConjunction(parts, weights, loras)


def _flatten(items: list, scale: float, loras: list) -> list:
    """compel's ``flatten_internal``: fragments with the product of the weights around them."""
    out: list = []
    stack = [(iter(items), scale)]
    while stack:
        it, scale = stack[-1]
        for item in it:
            t = type(item)
            if t is _Frag:  # flattening makes a new Fragment, which unescapes its text once more
                out.append(CompelFragment(_fragment_text(item.text), 1.0 * scale))
            elif t is _Paren or t is _Quote:
                stack.append((iter(item.children), scale))
                break
            elif t is _Attention:
                stack.append((iter(_tokens(item.target)), scale * item.weight))
                break
            elif t is _Swap:
                # an empty side is Fragment('') when parsed, and again after flattening (then at weight 1)
                original = _flatten(_tokens(item.target) or [_EMPTY], scale, loras) or [CompelFragment("", 1.0)]
                edited = _flatten(item.edited or [_EMPTY], scale, loras) or [CompelFragment("", 1.0)]
                out.append(CompelSwap(original, edited))
            elif t is _Lora:
                loras.append((item.name, item.weight))
        else:
            stack.pop()
    return out


_EMPTY = _Frag("", 0, 0, _Frag.EMPTY)


def _fuse(items: list) -> list:
    """compel's ``fuse_fragments``: neighbours of equal weight join with a space (a swap stands alone)."""
    out: list = []
    for x in items:
        if type(x) is CompelSwap:
            out.append(CompelSwap(_fuse(x.original), _fuse(x.edited)))
            continue
        last = out[-1] if out and type(out[-1]) is CompelFragment else None
        if last is not None and last.weight == x.weight:  # a new Fragment: unescaped again
            out[-1] = CompelFragment(_fragment_text(last.text + " " + x.text), last.weight)
        else:
            out.append(x)
    return out


# -- the shared tree --------------------------------------------------------------------------------------------

def parse_compel(source: str) -> list[Node]:
    """The lossless tree of a compel prompt (top-level nodes)."""
    reading = read(source)
    builder = _TreeBuilder(source, reading)
    items: list = list(reading.lead)
    if type(reading.main) is _Operator:
        items.append(reading.main)
    elif reading.main:
        items += reading.main
    items += reading.trail
    if reading.main == [] and reading.rest == 0 and reading.error is not None:
        items = _plain_words(reading.text)  # nested too deep for compel's grammar
    return builder.nodes(items, 0, len(source), free=True)


def _plain_words(text: str) -> list:
    out = []
    for m in re.finditer(r"[^ \t\n\r\x0b\x0c]+", text):
        out.append(_Frag(m.group(), m.start(), m.end(), _Frag.FREE))
    return out


class _TreeBuilder:
    """Items (spans in the preprocessed prompt) -> tree nodes (spans in the source), filling the gaps."""

    def __init__(self, source: str, reading: _Reading) -> None:
        self.source = source
        self.inserted = reading.inserted
        self.lora_index = 0

    def pos(self, p: int) -> int:
        return p - bisect_left(self.inserted, p) if self.inserted else p

    def nodes(self, items: list, start: int, end: int, free: bool = False, syntax_gaps: bool = False) -> list[Node]:
        """Nodes for ``items`` covering source ``start:end``; what lies between items is whitespace (or, in a
        blend's part list, SYNTAX text: the commas)."""
        out: list[Node] = []
        at = start
        for item in items:
            a = self.pos(item.start)
            if a > at:
                self.gap(out, at, a, syntax_gaps)
            made = self.node(item, free)
            out += made
            at = max(at, self.pos(item.end))
        if end > at:
            self.gap(out, at, end, syntax_gaps)
        return out

    def gap(self, out: list[Node], a: int, b: int, syntax: bool) -> None:
        raw = self.source[a:b]
        if syntax and raw.strip():
            out.append(Text(a, b, raw, raw, Text.SYNTAX))
            return
        if "\n" not in raw:
            out.append(Text(a, b, raw, raw))
            return
        pos = a
        for piece in re.split(r"(\n)", raw):
            if piece:
                out.append(Separator(pos, pos + 1, piece) if piece == "\n" else Text(pos, pos + len(piece), piece, piece))
                pos += len(piece)

    def node(self, item, free: bool) -> list[Node]:
        t = type(item)
        src = self.source
        if t is _Frag:
            a, b = self.pos(item.start), self.pos(item.end)
            if item.kind == _Frag.EMPTY:
                return []
            if item.kind == _Frag.PUNCT:
                raw = src[a:b]
                return [Separator(a, b, raw) if raw == "," else Text(a, b, raw, raw)]
            if item.kind == _Frag.FREE:
                return _free_word_nodes(src, a, b)
            raw = src[a:b]
            return [Text(a, b, raw, item.text)]
        if t is _Paren or t is _Quote:
            return [self.group(item, "round" if t is _Paren else "compel_quote", 1.0, item.end)]
        if t is _Attention:
            target = item.target
            if type(target) is _Frag:
                a, b = self.pos(target.start), self.pos(item.end)
                group = Group(a, "compel_word" if item.how == "signs" else "compel_attend", "", item.weight)
                group.children = self.node(target, False)
                group.close = src[self.pos(target.end):b]
                group.closed = True
                group.end = b
                return [group]
            kind = "compel_attend" if item.how == "attend" else "compel_weight"
            return [self.group(target, kind, item.weight, item.end)]
        if t is _Swap:
            a, b = self.pos(item.start), self.pos(item.end)
            target_nodes = self.node(item.target, False)
            t_end = self.pos(item.target.end)
            open_end = self.pos(item.open_end)
            edit_end = self.pos(item.edit_end)
            children: list[Node] = list(target_nodes)
            children.append(Text(t_end, open_end, src[t_end:open_end], src[t_end:open_end], Text.SYNTAX))
            replacement = self.nodes(item.edited, open_end, edit_end)
            children += replacement
            if b - 1 > edit_end:
                raw = src[edit_end:b - 1]
                children.append(Text(edit_end, b - 1, raw, raw, Text.SYNTAX))
            return [Swap(a, b, children, target_nodes, replacement, src[edit_end:b - 1], ")")]
        if t is _Lora:
            a, b = self.pos(item.start), self.pos(item.end)
            args = [_format_number(item.weight)] if item.has_weight else []
            return [ExtraNetwork(a, b, src[a:b], "lora", item.name, args)]
        if t is _Operator:
            a, b = self.pos(item.start), self.pos(item.end)
            close_start = self.pos(item.close_start)
            parts = [self.node(part, False) for part in item.parts]
            children = self.nodes_of_parts(parts, a + 1, close_start)
            weights, normalize = _operator_weights(item) if _options_checked(item) else ([], True)
            return [Blend(a, b, "(", src[close_start:b], children, "and" if item.op in ("and", "add") else "blend",
                          parts, weights, normalize)]
        raise AssertionError(t)  # pragma: no cover

    def nodes_of_parts(self, parts: list[list[Node]], start: int, end: int) -> list[Node]:
        out: list[Node] = []
        at = start
        for part in parts:
            if not part:
                continue
            if part[0].start > at:
                self.gap(out, at, part[0].start, True)
            out += part
            at = part[-1].end
        if end > at:
            self.gap(out, at, end, True)
        return out

    def group(self, item, kind: str, multiplier: float, end: int) -> Group:
        """A parenthesized or quoted target as a Group; ``end`` is where its operator (if any) ends."""
        src = self.source
        a, inner_end, b = self.pos(item.start), self.pos(item.end) - 1, self.pos(end)
        group = Group(a, kind, src[a], multiplier)
        group.children = self.nodes(item.children, a + 1, inner_end)
        group.close = src[inner_end:b]
        group.closed = True
        group.end = b
        return group


def _options_checked(op: _Operator) -> bool:
    return all(not isinstance(first, str) or first == "no_normalize" for first, _ in op.options)


def _free_word_nodes(src: str, a: int, b: int) -> list[Node]:
    """A top-level word as tag pieces: text, with its commas as separators and stray brackets and quotes as
    INERT text (compel reads them as characters of the word)."""
    raw = src[a:b]
    if not ("," in raw or "(" in raw or ")" in raw or '"' in raw):
        return [Text(a, b, raw, _fragment_text(raw))]
    out: list[Node] = []
    for m in re.finditer(r'\\[()"]|[^,()"\\]+|\\|[,()"]', raw):
        piece = m.group()
        s, e = a + m.start(), a + m.end()
        if piece == ",":
            out.append(Separator(s, e, piece))
        elif piece in ("(", ")", '"'):
            out.append(Text(s, e, piece, piece, Text.INERT))
        elif len(piece) == 2 and piece[0] == "\\" and piece[1] in '()"':
            out.append(Text(s, e, piece, piece[1], Text.ESCAPE))
        else:
            out.append(Text(s, e, piece, piece))
    return out


def _format_number(x: float) -> str:
    return f"{x:g}" if x == x else "nan"


def sign_multiplier(signs: str) -> float:
    """compel's weight for a run of ``+`` (1.1 each) or ``-`` (0.9 each)."""
    if not signs:
        return 1.0
    try:
        return pow(1.1 if signs[0] == "+" else 0.9, len(signs))
    except OverflowError:
        return float("inf")
