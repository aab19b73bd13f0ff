"""compel (InvokeAI, diffusers users): ``word++``, ``(a b)1.3``, ``(a b)-``, ``("a", "b").blend(0.7, 0.3)``.

A sign run weights the word or group it follows: ``+`` x1.1 and ``-`` x0.9 per sign. A number right after a
closing parenthesis sets that group's weight; nested groups multiply. Plain ``( )`` only groups.
"""

from __future__ import annotations

import re

from ..ast import Blend, Group, Node, Separator, Text
from .brackets import ParseResult

_TOKEN = re.compile(
    r"""(?P<esc>\\.)
|(?P<blend>\((?:\s*"(?:[^"\\]|\\.)*"\s*,?)+\s*\)\.(blend|and|add)\(([^()]*)\))
|(?P<wword>([^\s(),\\"+-][^\s(),\\"]*?)(\++|-+)(?=[\s,()]|$))
|(?P<open>\()
|(?P<close>\)(\++|-+|\d+(?:\.\d*)?|\.\d+)?)
|(?P<sep>[,\n])
|(?P<text>[^\s(),\\"]+|[^\S\n]+|")
|(?P<char>.)""",  # anything left over (a trailing backslash) is text: no character is ever lost
    re.X | re.S,
)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def sign_multiplier(signs: str) -> float:
    """compel's weight for a run of ``+`` (1.1 each) or ``-`` (0.9 each)."""
    if not signs:
        return 1.0
    return (1.1 if signs[0] == "+" else 0.9) ** len(signs)


def parse_compel(text: str) -> ParseResult:
    root: list[Node] = []
    cur = root
    stack: list[Group] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        s, e = m.span()
        tok = m.group()
        if kind == "text" or kind == "char":
            cur.append(Text(s, e, tok, tok))
        elif kind == "sep":
            cur.append(Separator(s, e, tok))
        elif kind == "esc":
            cur.append(Text(s, e, tok, tok[1], Text.ESCAPE))
        elif kind == "wword":
            word, signs = m.group(m.lastindex + 1), m.group(m.lastindex + 2)
            group = Group(s, "compel_word", "", sign_multiplier(signs))
            group.children.append(Text(s, s + len(word), word, word))
            group.close = signs
            group.closed = True
            group.end = e
            cur.append(group)
        elif kind == "open":
            group = Group(s, "round", "(", 1.0)
            cur.append(group)
            stack.append(group)
            cur = group.children
        elif kind == "close":
            if not stack:
                cur.append(Text(s, e, tok, tok, Text.STRAY))
                continue
            group = stack.pop()
            suffix = tok[1:]
            if suffix:
                group.kind = "compel_weight"
                group.multiplier = sign_multiplier(suffix) if suffix[0] in "+-" else float(suffix)
            group.close = tok
            group.closed = True
            group.end = e
            cur = stack[-1].children if stack else root
        elif kind == "blend":
            prompts = [p.replace('\\"', '"') for p in _QUOTED.findall(tok[: tok.rfind(").")])]
            op = m.group(m.lastindex + 1)
            args = [a.strip() for a in m.group(m.lastindex + 2).split(",") if a.strip()]
            weights = []
            for arg in args:
                try:
                    weights.append(float(arg))
                except ValueError:
                    pass
            cur.append(Blend(s, e, tok, "and" if op == "add" else op, prompts, weights))
    for group in stack:
        group.end = len(text)
    return ParseResult(root, None)
