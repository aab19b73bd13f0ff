"""Strict mode: check a prompt against its dialect's lark grammar and explain what is wrong.

The scanner of each dialect produces the tokens (see ``grammars/common.lark``); the LALR parser built from
``grammars/<dialect>.lark`` decides whether they form a well-formed prompt. Lark's exceptions never reach the
user: they become a :class:`PromptSyntaxError` with line, column, caret and a hint.
"""

from __future__ import annotations

import functools
from typing import Iterator

from .._resources import data_dir, grammar_path
from .ast import (
    And,
    Blend,
    Break,
    Embedding,
    ExtraNetwork,
    Group,
    Node,
    Separator,
    Swap,
    Text,
)
from .errors import PromptSyntaxError

# A group's opening and closing terminals follow from how it was written: its kind and its opening text.
_OPEN_TERMINAL = {"(": "LPAR", '"': "QUOTE", "[": "LSQB", "{": "LBRACE"}
_CLOSE_TERMINAL = {"round": "RPAR", "weight": "WEIGHT_CLOSE", "square": "RSQB", "curly": "RBRACE",
                   "nai_weight": "NAI_CLOSE"}
_STRAY_TERMINAL = {")": "RPAR", "]": "RSQB", "}": "RBRACE", "::": "NAI_CLOSE"}
_INERT_TERMINAL = {"(": "LPAR", ")": "RPAR", '"': "QUOTE"}  # brackets the dialect reads as text
_TEXT_TERMINAL = {Text.PLAIN: "TEXT", Text.ESCAPE: "ESC", Text.BACKSLASH: "BACKSLASH", Text.COLON: "COLON",
                  Text.PIPE: "PIPE", Text.SYNTAX: "TEXT"}
_LEAF_TERMINAL = {Separator: "SEP", Break: "BREAK", And: "AND", ExtraNetwork: "NETWORK", Embedding: "EMBEDDING"}
_CLOSERS = {"LPAR": ")", "LSQB": "]", "LBRACE": "}", "NAI_OPEN": "::", "QUOTE": '"'}


@functools.cache
def _parser(dialect: str):
    from lark import Lark
    from lark.lexer import Lexer

    class TreeLexer(Lexer):
        """Feeds lark the tokens promptkit's own scanner found (the input is a token list)."""

        def __init__(self, lexer_conf) -> None:  # noqa: D401 - lark's signature
            pass

        def lex(self, data):  # type: ignore[override]
            return iter(data)

    grammar = grammar_path(dialect).read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer=TreeLexer, import_paths=[str(data_dir("grammars"))],
                propagate_positions=False, maybe_placeholders=False)


def _tokens(children: list[Node], text: str) -> Iterator:
    """Flatten the lenient tree back into terminals: a group's closer is emitted only if it had one."""
    from lark import Token

    stack: list[tuple[Iterator[Node], Node | None]] = [(iter(children), None)]
    while stack:
        it, owner = stack[-1]
        for node in it:
            t = type(node)
            if t is Text:
                kind = node.kind  # type: ignore[attr-defined]
                raw = node.raw  # type: ignore[attr-defined]
                if kind == Text.STRAY:
                    ttype = _STRAY_TERMINAL.get(raw, "WEIGHT_CLOSE" if raw.endswith(")") else "RPAR")
                elif kind == Text.INERT:
                    ttype = _INERT_TERMINAL.get(raw, "TEXT")
                else:
                    ttype = _TEXT_TERMINAL[kind]
                yield Token(ttype, raw, start_pos=node.start, end_pos=node.end)
                continue
            if t in _LEAF_TERMINAL:
                yield Token(_LEAF_TERMINAL[t], node.raw, start_pos=node.start, end_pos=node.end)  # type: ignore
                continue
            if t is Swap or t is Blend or (t is Group and not node.open):  # type: ignore[attr-defined]
                # compel's whole-word weights and operators: one terminal each (their inside is compel's)
                ttype = "SWAP" if t is Swap else "BLEND" if t is Blend else "WEIGHTED_WORD"
                yield Token(ttype, text[node.start:node.end], start_pos=node.start, end_pos=node.end)
                continue
            opener = node.open  # type: ignore[attr-defined]
            ttype = "NAI_OPEN" if t is Group and node.kind == "nai_weight" else _OPEN_TERMINAL[opener[:1]]  # type: ignore
            yield Token(ttype, opener, start_pos=node.start, end_pos=node.start + len(opener))
            stack.append((iter(node.children), node))  # type: ignore[attr-defined]
            break
        else:
            stack.pop()
            if owner is None:
                continue
            closed = owner.closed if type(owner) is Group else True  # type: ignore[attr-defined]
            if closed:
                close = owner.close  # type: ignore[attr-defined]
                if type(owner) is Group and owner.open[:1] == '"':  # type: ignore[attr-defined]
                    ttype = "QUOTE"
                elif type(owner) is Group and owner.kind in _CLOSE_TERMINAL:  # type: ignore[attr-defined]
                    ttype = _CLOSE_TERMINAL[owner.kind]  # type: ignore[attr-defined]
                elif type(owner) is Group:  # compel's ")1.2", ")++", ").attend(0.5)"
                    ttype = "RPAR"
                else:
                    ttype = "RSQB"
                yield Token(ttype, close, start_pos=owner.end - len(close), end_pos=owner.end)


def _unclosed_opener(tokens: list, upto: int) -> object | None:
    """The innermost opener still open before token index ``upto``."""
    stack = []
    for tok in tokens[:upto]:
        if tok.type == "QUOTE" and stack and stack[-1].type == "QUOTE":
            stack.pop()
        elif tok.type in _CLOSERS:
            stack.append(tok)
        elif tok.type in ("RPAR", "WEIGHT_CLOSE", "RSQB", "RBRACE", "NAI_CLOSE") and stack:
            stack.pop()
    return stack[-1] if stack else None


def check_strict(text: str, dialect: str) -> None:
    """Raise :class:`PromptSyntaxError` unless ``text`` is a well-formed prompt in ``dialect``."""
    from lark.exceptions import UnexpectedInput, UnexpectedToken

    from .parser import parse_tree

    tokens = list(_tokens(parse_tree(text, dialect), text))
    _check_weights(tokens, text)
    try:
        _parser(dialect).parse(tokens)
    except UnexpectedToken as exc:
        tok = exc.token
        index = next((i for i, t in enumerate(tokens) if t is tok), len(tokens))
        opener = _unclosed_opener(tokens, index)
        if tok.type == "$END" and opener is None:  # pragma: no cover - every grammar ends only after a closer
            raise PromptSyntaxError("the prompt ends inside a group", text, len(text)) from None
        if tok.type == "$END":
            close = _CLOSERS[opener.type]
            raise PromptSyntaxError(
                f"unclosed {opener.value!r}", text, opener.start_pos,
                hint=f"close it with {close!r}, or escape it as '\\{opener.value}' if it is part of a tag "
                     f"(for example 'kazusa \\(blue archive\\)')",
            ) from None
        expected = ""
        if opener is not None:
            expected = f"; the open {opener.value!r} at column {opener.start_pos + 1} needs {_CLOSERS[opener.type]!r}"
        raise PromptSyntaxError(
            f"unexpected {tok.value!r}{expected}", text, tok.start_pos, end=tok.end_pos,
            hint=f"remove it, or escape it as '\\{tok.value[-1]}' if it is part of a tag",
        ) from None
    except UnexpectedInput as exc:  # pragma: no cover - the token-list lexer raises only UnexpectedToken
        raise PromptSyntaxError(str(exc).splitlines()[0], text, 0) from None
    if dialect == "compel":
        _check_compel(text)


def _check_compel(text: str) -> None:
    """What compel's own parser rejects (or silently drops) in a prompt whose brackets are balanced."""
    from .dialects.compel import read

    reading = read(text)
    if reading.error is not None:
        raise PromptSyntaxError(reading.error, text, reading.source_pos(min(reading.rest, len(reading.text))),
                                hint="compel 2.5.1 would raise or drop text here; see the message")


def _check_weights(tokens: list, text: str) -> None:
    for tok in tokens:
        if tok.type in ("WEIGHT_CLOSE", "NAI_OPEN"):
            number = tok.value.strip(":)").strip()
            try:
                float(number)
            except ValueError:
                raise PromptSyntaxError(
                    f"{number!r} is not a number", text, tok.start_pos, end=tok.end_pos,
                    hint="write a weight like (tag:1.2)",
                ) from None
