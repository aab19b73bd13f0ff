"""Dynamic-prompts templates (sd-dynamic-prompts / the ``dynamicprompts`` library) as a lossless tree.

``{a|b}`` variants with ``0.5::`` weights, ``{2$$a|b}`` / ``{1-3$$ and $$a|b}`` counts and separators,
``~ @ !`` sampler prefixes, ``__wildcards__`` (globs, ``__name(var=value)__`` parameters), ``${x=v}`` /
``${x=!v}`` / ``${x}`` / ``${x:default}`` variables, ``%{wrapper...$$inner}`` wraps and ``#`` / ``//`` /
``/* */`` comments. The parser is hand-written and follows the reference grammar (pyparsing, 0.31.0) rule
by rule, including its quirks, because expansion must match the reference byte for byte: a literal stops
at ``# { $ %`` and ``__`` (inside a variant also at ``| }``), a variant's option loses its leading
whitespace, a comment is skipped only where a token starts (with the whitespace before it) and the
literal pieces around it are joined with one space. Parsing is memoised per (rule, position), so it is
linear in the input; nesting deeper than :data:`MAX_DEPTH` is refused with a :class:`PromptSyntaxError`
(the reference overflows Python's stack there).

Every node keeps its span and the source pieces it was written with (``pieces``: strings and child nodes
in source order), so :func:`render` of an unmodified tree gives back the input byte for byte.
"""

from __future__ import annotations

import re
from typing import Iterator, Union

from .errors import PromptSyntaxError

MAX_DEPTH = 64  # nested constructs; the reference dies of recursion long before real templates get here

SAMPLERS = {"~": "random", "@": "cyclical", "!": "combinatorial"}


class Node:
    """A template node: ``start``/``end`` offsets and ``pieces`` (source strings and children, in order)."""

    __slots__ = ("start", "end", "pieces")

    def __init__(self, start: int, end: int, pieces: list) -> None:
        self.start = start
        self.end = end
        self.pieces = pieces

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.start}:{self.end} {render(self)!r})"


Piece = Union[str, Node]


class Text(Node):
    """Literal text. ``value`` is what the reference makes of it: the pieces between comments joined by a
    space (``a #note⏎b`` is ``'a  ⏎b'``)."""

    __slots__ = ("value",)

    def __init__(self, start: int, end: int, pieces: list, value: str) -> None:
        super().__init__(start, end, pieces)
        self.value = value


class Comment(Node):
    """A skipped comment with the whitespace before it (``#`` / ``//`` to the end of the line, ``/* */``)."""

    __slots__ = ()


class Option(Node):
    """One option of a variant: its weight (1.0 unless written ``w::``) and its body."""

    __slots__ = ("weight", "body")

    def __init__(self, start: int, end: int, pieces: list, weight: float, body: list[Node]) -> None:
        super().__init__(start, end, pieces)
        self.weight = weight
        self.body = body

    @property
    def body_start(self) -> int:
        return self.body[0].start if self.body else self.end

    @property
    def body_end(self) -> int:
        return self.body[-1].end if self.body else self.end


class Variants(Node):
    """``{...}``: ``sampler`` (None or random/cyclical/combinatorial), bounds ``lo``..``hi`` as the reference
    computes them (``hi`` may exceed the option count; expansion clamps), ``separator`` and ``options``."""

    __slots__ = ("sampler", "lo", "hi", "separator", "options", "bounded")

    def __init__(self, start: int, end: int, pieces: list, sampler: str | None, lo: int, hi: int,
                 separator: str, options: list[Option], bounded: bool) -> None:
        super().__init__(start, end, pieces)
        self.sampler, self.lo, self.hi, self.separator, self.options = sampler, lo, hi, separator, options
        self.bounded = bounded


class Wildcard(Node):
    """``__path__``: the path is itself a small template (``__{a|b}__``, ``__x/${v}__``); ``params`` are the
    ``(name=value, ...)`` variables, raw (the reference parses each value on use)."""

    __slots__ = ("sampler", "path", "params")

    def __init__(self, start: int, end: int, pieces: list, sampler: str | None, path: list[Node],
                 params: list[tuple[str, str]]) -> None:
        super().__init__(start, end, pieces)
        self.sampler, self.path, self.params = sampler, path, params

    @property
    def literal_path(self) -> str | None:
        """The path when it is plain text (the usual case), else None."""
        body = [n for n in self.path if type(n) is not Comment]
        if len(body) == 1 and type(body[0]) is Text:
            return body[0].value
        return None


class VarAssign(Node):
    """``${name=value}``; ``immediate`` for ``=!`` (evaluated once), ``keep`` for ``?=`` (keep an existing)."""

    __slots__ = ("name", "value", "immediate", "keep")

    def __init__(self, start: int, end: int, pieces: list, name: str, value: list[Node], immediate: bool,
                 keep: bool) -> None:
        super().__init__(start, end, pieces)
        self.name, self.value, self.immediate, self.keep = name, value, immediate, keep


class VarAccess(Node):
    """``${name}`` or ``${name:default}``; ``in_path`` when written inside a wildcard path (its default is
    then the stripped text, or the variable's own name)."""

    __slots__ = ("name", "default", "in_path")

    def __init__(self, start: int, end: int, pieces: list, name: str, default: list[Node] | None,
                 in_path: bool) -> None:
        super().__init__(start, end, pieces)
        self.name, self.default, self.in_path = name, default, in_path


class Wrap(Node):
    """``%{wrapper$$inner}``: the inner text replaces the first ellipsis of the wrapper."""

    __slots__ = ("wrapper", "inner")

    def __init__(self, start: int, end: int, pieces: list, wrapper: list[Node], inner: list[Node]) -> None:
        super().__init__(start, end, pieces)
        self.wrapper, self.inner = wrapper, inner


class Template:
    """A parsed template: ``source`` and its top-level ``body``."""

    __slots__ = ("source", "body")

    def __init__(self, source: str, body: list[Node]) -> None:
        self.source = source
        self.body = body

    def render(self) -> str:
        return "".join(render(n) for n in self.body)

    def walk(self) -> Iterator[Node]:
        """Every node, depth first, in source order."""
        stack: list[Iterator[Piece]] = [iter(self.body)]
        while stack:
            for piece in stack[-1]:
                if isinstance(piece, Node):
                    yield piece
                    stack.append(iter(piece.pieces))
                    break
            else:
                stack.pop()

    def options(self) -> Iterator[Option]:
        """Every variant option, outer ones first (see :func:`option_spans`)."""
        for node in self.walk():
            if type(node) is Option:
                yield node


def render(node: Node) -> str:
    """The node's source text, from its pieces (no recursion: deep trees render too)."""
    out: list[str] = []
    stack: list[Iterator[Piece]] = [iter(node.pieces)]
    while stack:
        for piece in stack[-1]:
            if isinstance(piece, str):
                out.append(piece)
            else:
                stack.append(iter(piece.pieces))
                break
        else:
            stack.pop()
    return "".join(out)


# --- the scanner -------------------------------------------------------------------------------------------
_COMMENT = re.compile(r"[ \t\r\n]*(?:#[^\n]*|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)")
_WS = re.compile(r"[ \t\r\n]+")
_LIT_TOP = re.compile(r"(?:(?!__)[^#{$%])+")
_LIT_VARIANT = re.compile(r"(?:(?!__)[^#{$%|}])+")
_LIT_PATH = re.compile(r"(?:(?!__)[^#{$%)(])+")
_WEIGHT = re.compile(r"([+-]?(?:\d+\.\d*|\.\d+)|\d+)::")
_BOUND = re.compile(r"(\d+)-(\d+)|-(\d+)|(\d+)-|(\d+)")
_SEPARATOR = re.compile(r"([!-#%-z|~ ]+)\$\$")  # printable ASCII and space, without $ { }
_NAME = re.compile(r"[A-Za-z_-][A-Za-z0-9_-]*")
_PARAMS = re.compile(r"[ \t\r\n]*\(([^)]+)\)")
_SAMPLER = frozenset("~!@")
_COMMENT_START = frozenset(" \t\r\n#/")
_SPECIAL = re.compile(r"[#{$%]|__|//|/\*")

TOP, VARIANT, PATH = 0, 1, 2
_LITERALS = {TOP: _LIT_TOP, VARIANT: _LIT_VARIANT}


class _Fail(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.memo: dict[tuple[int, int], tuple[Node | None, int]] = {}
        self.depth = 0
        self.furthest = 0

    # comments: skipped wherever a token starts, with the whitespace before them
    def comments(self, pos: int, out: list) -> int:
        text, match = self.text, _COMMENT.match
        if pos >= len(text) or text[pos] not in _COMMENT_START:
            return pos
        m = match(text, pos)
        while m and m.end() > pos:
            out.append(Comment(pos, m.end(), [m.group()]))
            pos = m.end()
            m = match(text, pos)
        return pos

    def ws(self, pos: int, out: list) -> int:
        m = _WS.match(self.text, pos)
        if m:
            out.append(m.group())
            return m.end()
        return pos

    def literal(self, pos: int, rx: re.Pattern) -> tuple[Text | None, int]:
        m = rx.match(self.text, pos)
        if not m:
            return None, pos
        pieces: list = [m.group()]
        values = [m.group()]
        end = m.end()
        while True:  # more literal pieces after comments join the same text, one space between
            skipped: list = []
            q = self.comments(end, skipped)
            if q == end:
                break
            m = rx.match(self.text, q)
            if not m:
                break
            pieces.extend(skipped)
            pieces.append(m.group())
            values.append(m.group())
            end = m.end()
        return Text(pos, end, pieces, " ".join(values)), end

    def body(self, pos: int, ctx: int) -> tuple[list[Node], int]:
        """ZeroOrMore(chunk) (OneOrMore, stopping before ``(``, in a wildcard path). Trailing comments are
        kept in the body: the token after it would skip them anyway."""
        items: list[Node] = []
        text = self.text
        while True:
            skipped: list = []
            q = self.comments(pos, skipped)
            if ctx == PATH and q < len(text) and text[q] == "(":
                items.extend(skipped)
                return items, q
            node, end = self.chunk(q, ctx)
            if node is None:
                items.extend(skipped)
                return items, q
            items.extend(skipped)
            items.append(node)
            pos = end

    def chunk(self, pos: int, ctx: int) -> tuple[Node | None, int]:
        key = (pos, ctx)
        hit = self.memo.get(key)
        if hit is not None:
            return hit
        if pos > self.furthest:
            self.furthest = pos
        result: tuple[Node | None, int] = (None, pos)
        text = self.text
        ch = text[pos] if pos < len(text) else ""
        if ch == "$" and text.startswith("${", pos):
            if ctx == TOP:
                result = self.guard(self.assignment, pos)
            if result[0] is None:
                result = self.guard(self.access, pos, ctx == PATH)
        elif ch == "%" and ctx != PATH and text.startswith("%{", pos):
            result = self.guard(self.wrap, pos)
        elif ch == "{":
            result = self.guard(self.variants, pos)
        elif ch == "_" and ctx != PATH and text.startswith("__", pos):
            result = self.guard(self.wildcard, pos)
        elif ch:
            if ctx == PATH:
                node, end = self.literal(pos, _LIT_PATH)
                if node is None:
                    node, end = self.literal(pos, _LIT_VARIANT)
                result = (node, end)
            else:
                result = self.literal(pos, _LITERALS[ctx])
        self.memo[key] = result
        return result

    def guard(self, rule, pos: int, *args) -> tuple[Node | None, int]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise PromptSyntaxError(f"template nested deeper than {MAX_DEPTH} levels", self.text, pos)
        try:
            return rule(pos, *args)
        except _Fail:
            return None, pos
        finally:
            self.depth -= 1

    def expect(self, pos: int, token: str, pieces: list) -> int:
        if not self.text.startswith(token, pos):
            raise _Fail
        pieces.append(token)
        return pos + len(token)

    def sampler(self, p: int, pieces: list) -> tuple[str | None, int]:
        """The sampler prefix (``~``, ``@``) of a variant or wildcard at ``p``, if any."""
        if p < len(self.text) and self.text[p] in _SAMPLER:
            pieces.append(self.text[p])
            return SAMPLERS[self.text[p]], p + 1
        return None, p

    def variants(self, pos: int) -> tuple[Node, int]:
        text = self.text
        pieces: list = ["{"]
        p = self.comments(pos + 1, pieces)
        p = self.ws(p, pieces)
        p = self.comments(p, pieces)
        sampler, p = self.sampler(p, pieces)
        bound = None
        separator = ","
        m = _BOUND.match(text, p)
        if m and text.startswith("$$", m.end()):
            bound = m
            head = [m.group(), "$$"]
            p = m.end() + 2
            s = _SEPARATOR.match(text, p)
            if s:
                head.append(s.group())
                separator = s.group(1)
                p = s.end()
            pieces.extend(head)
        p = self.comments(p, pieces)
        p = self.ws(p, pieces)
        options: list[Option] = []
        while True:
            o_start = p
            o_pieces: list = []
            p = self.comments(p, o_pieces)
            p = self.ws(p, o_pieces)
            p = self.comments(p, o_pieces)
            weight = 1.0
            w = _WEIGHT.match(text, p)
            if w:
                weight = float(w.group(1))
                o_pieces.append(w.group())
                p = w.end()
            body, p = self.body(p, VARIANT)
            o_pieces.extend(body)
            options.append(Option(o_start, p, o_pieces, weight, _semantic(body)))
            pieces.append(options[-1])
            q = self.comments(p, pieces)
            if text.startswith("|", q):
                pieces.append("|")
                p = q + 1
                continue
            if text.startswith("}", q):
                pieces.append("}")
                p = q + 1
                break
            raise _Fail
        lo = hi = 1
        if bound is not None:
            exact_or_lower = bound.group(1) or bound.group(4)
            if bound.group(5):
                lo = hi = int(bound.group(5))
            else:
                lo = int(exact_or_lower) if exact_or_lower else 1
                upper = bound.group(2) or bound.group(3)
                hi = int(upper) if upper else len(options)
            lo, hi = sorted((lo, hi))
            lo = max(0, lo)
        return Variants(pos, p, pieces, sampler, lo, hi, separator, options, bound is not None), p

    def wildcard(self, pos: int) -> tuple[Node, int]:
        text = self.text
        pieces: list = ["__"]
        p = pos + 2
        p = self.comments(p, pieces)
        sampler, p = self.sampler(p, pieces)
        path, p = self.body(p, PATH)
        if not any(type(n) is not Comment for n in path):
            raise _Fail
        pieces.extend(path)
        params: list[tuple[str, str]] = []
        m = _PARAMS.match(text, p)
        if m:
            pieces.append(m.group())
            for pair in m.group(1).split(","):
                key, _, value = pair.partition("=")
                params.append((key.strip(), value.strip()))
            p = m.end()
        p = self.comments(p, pieces)
        p = self.expect(p, "__", pieces)
        return Wildcard(pos, p, pieces, sampler, [n for n in path if type(n) is not Comment], params), p

    def _var_head(self, pos: int, pieces: list) -> tuple[str, int]:
        p = self.comments(pos + 2, pieces)
        p = self.ws(p, pieces)
        m = _NAME.match(self.text, p)
        if not m:
            raise _Fail
        pieces.append(m.group())
        p = self.ws(m.end(), pieces)
        return m.group(), p

    def assignment(self, pos: int) -> tuple[Node, int]:
        text = self.text
        pieces: list = ["${"]
        name, p = self._var_head(pos, pieces)
        keep = text.startswith("?", p)
        if keep:
            pieces.append("?")
            p += 1
        p = self.expect(p, "=", pieces)
        immediate = text.startswith("!", p)
        if immediate:
            pieces.append("!")
            p += 1
        p = self.comments(p, pieces)
        p = self.ws(p, pieces)
        value, p = self.body(p, VARIANT)
        pieces.extend(value)
        p = self.comments(p, pieces)
        p = self.ws(p, pieces)
        p = self.expect(p, "}", pieces)
        return VarAssign(pos, p, pieces, name, _semantic(value), immediate, keep), p

    def access(self, pos: int, in_path: bool) -> tuple[Node, int]:
        text = self.text
        pieces: list = ["${"]
        name, p = self._var_head(pos, pieces)
        default = None
        p = self.comments(p, pieces)
        if text.startswith(":", p):
            pieces.append(":")
            p = self.comments(p + 1, pieces)
            p = self.ws(p, pieces)
            body, p = self.body(p, VARIANT)
            pieces.extend(body)
            default = _semantic(body)
        p = self.comments(p, pieces)
        p = self.ws(p, pieces)
        p = self.expect(p, "}", pieces)
        return VarAccess(pos, p, pieces, name, default, in_path), p

    def wrap(self, pos: int) -> tuple[Node, int]:
        pieces: list = ["%{"]
        p = self.comments(pos + 2, pieces)
        p = self.ws(p, pieces)
        wrapper, p = self.body(p, VARIANT)
        pieces.extend(wrapper)
        p = self.comments(p, pieces)
        p = self.ws(p, pieces)
        p = self.expect(p, "$$", pieces)
        p = self.comments(p, pieces)
        p = self.ws(p, pieces)
        inner, p = self.body(p, VARIANT)
        pieces.extend(inner)
        p = self.comments(p, pieces)
        p = self.expect(p, "}", pieces)
        return Wrap(pos, p, pieces, _semantic(wrapper), _semantic(inner)), p


def _semantic(body: list[Node]) -> list[Node]:
    return [n for n in body if type(n) is not Comment]


def parse_template(text: str) -> Template:
    """Parse a dynamic-prompts template into a lossless tree.

    Raises :class:`PromptSyntaxError` where the reference (``dynamicprompts``) refuses the text too: an
    unclosed ``{``, a stray ``$``, ``%`` or ``__``, a variant that is not ``{options}``.
    """
    if not _SPECIAL.search(text):  # plain text (most wildcard lines): one literal
        return Template(text, [Text(0, len(text), [text], text)] if text else [])
    from .parser import paused_gc  # the same pause as the prompt parser: a big tree is many small objects

    parser = _Parser(text)
    with paused_gc(len(text)):
        body, pos = parser.body(0, TOP)
    parser.memo.clear()
    if pos < len(text):
        where = max(pos, min(parser.furthest, len(text) - 1)) if text[pos] in "{$%_" else pos
        ch = text[pos]
        hint = {"{": "close the variant with '}' (write a literal brace as another character: the reference "
                     "has no escape for it)",
                "$": "a '$' starts a variable '${name}'; the reference accepts no other '$'",
                "%": "a '%' starts a wrap '%{wrapper$$inner}'; the reference accepts no other '%'",
                "_": "'__' starts a wildcard '__name__'; close it with '__'"}.get(ch, "")
        raise PromptSyntaxError(f"dynamic-prompts syntax error at {text[pos:pos + 2]!r}", text, pos,
                                hint=hint, end=where + 1)
    return Template(text, body)


def option_spans(template: Template | str) -> Iterator[tuple[int, int]]:
    """Each option's body span ``(start, end)`` in the source, outer options first: what a linter checks
    as a prompt fragment in place (a typo in ``{long hiar|short hair}`` is at ``1:10``)."""
    tree = parse_template(template) if isinstance(template, str) else template
    for option in tree.options():
        yield option.body_start, option.body_end


_TOP_BRACE = re.compile(r"\{([^{}]*)\}")


def reads_as_template(text: str, dialect: str = "a1111") -> bool:
    """Whether ``{...}`` in ``text`` are dynamic-prompts variants for users of ``dialect``.

    NovelAI writes ``{x}`` for emphasis, so there it never is. For A1111, Forge and ComfyUI (as dynamic
    prompts reads them) it is when a brace pair holds ``|``, ``$$`` or ``::`` at its own level, or the text
    has a ``__wildcard__`` or ``${variable}``.
    """
    if dialect.lower() in ("novelai", "nai"):
        return False
    if "${" in text or re.search(r"__[^_\s][^\n]*?__", text):
        return True
    for m in _TOP_BRACE.finditer(text):
        inner = m.group(1)
        if "|" in inner or "$$" in inner or "::" in inner:
            return True
    return False
