"""ComfyUI (CLIPTextEncode), read exactly as ``comfy/sd1_clip.py`` reads it.

ComfyUI turns ``\\(`` and ``\\)`` into placeholders, then splits the text at its top-level parentheses with a
nesting counter (``parse_parentheses``) and recurses into each ``( )`` item (``token_weights``):

- a group multiplies the weight around it by 1.1; if the text inside has a ``:`` (the last one, not the
  first character) and ``float()`` accepts everything after it, that number *replaces* the weight:
  ``(x:1e2)`` is 100, ``(x: 1.5 )`` is 1.5, ``(x:1.2.3)`` is the text ``x:1.2.3`` at 1.1, ``(:1.2)`` is the
  text ``:1.2`` at 1.1, ``((a):2)`` is ``a`` at 2.2;
- an unclosed ``(`` starts an item that never closes: the rest of the prompt is literal text at the outer
  weight, brackets and all;
- a stray ``)`` drives the counter below zero: the brackets after it are text until the counter is back at
  zero, and the next ``(`` there opens a group again;
- a backslash escapes only ``(`` and ``)``; ``a\\:b`` keeps its backslash; ``[x]`` is text.

Every weighted piece ComfyUI produces is one *segment*: the text between groups at one level, or a whole
unclosed item. ComfyUI tokenizes each segment on its own (``(text)(words)`` is two words), which the
``comfy`` weighting reproduces from :func:`comfy_segments`.

The nesting counter is kept in one pass; the ``float()`` test of each group's tail is done once per group on
its own text, so deep nesting stays linear (ComfyUI itself rescans every group's inside at every level).
"""

from __future__ import annotations

import re

from ..ast import Embedding, Group, Node, Separator, Text

_EMBEDDING = re.compile(r"embedding:")


def parse_comfy(text: str) -> list[Node]:
    """The lossless tree of a ComfyUI prompt."""
    n = len(text)
    # Pass 1: ComfyUI's top-level counter, to know which top-level "(" ever closes, and where.
    closes_at: dict[int, int] = {}  # position of a top-level "(" -> position of its ")"
    level = 0
    opened = -1
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "()":
            i += 2
            continue
        if c == "(":
            if level == 0:
                opened = i
            level += 1
        elif c == ")":
            level -= 1
            if level == 0:
                closes_at[opened] = i
        i += 1

    root: list[Node] = []
    stack: list[tuple[Group, list[Node]]] = []  # open (closing) groups and the node list around each
    cur = root
    level = 0  # ComfyUI's counter at the top level
    run_start = 0  # start of the pending plain text run
    segment = 0  # where ComfyUI's current segment began (after the last group bracket)

    def flush(upto: int) -> None:
        nonlocal run_start
        if upto > run_start:
            _text_nodes(text, run_start, upto, cur, segment)
        run_start = upto

    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "()":
            flush(i)
            cur.append(Text(i, i + 2, text[i:i + 2], text[i + 1], Text.ESCAPE))
            i += 2
            run_start = i
            continue
        if c == "(":
            flush(i)
            if stack or (level == 0 and i in closes_at):  # a group (nested ones are balanced)
                group = Group(i, "round", "(", 1.1)
                cur.append(group)
                stack.append((group, cur))
                cur = group.children
                if len(stack) == 1:
                    level += 1
                segment = i + 1
            elif level < 0:  # after a stray ")": text that brings the counter back up
                cur.append(Text(i, i + 1, "(", "(", Text.INERT))
                level += 1
            else:  # never closes: the rest of the prompt is one literal item at the outer weight
                group = Group(i, "round", "(", 1.0)
                group.children = _literal_nodes(text, i + 1, n)
                group.end = n
                cur.append(group)
                return root
            i += 1
            run_start = i
            continue
        if c == ")":
            flush(i)
            if stack:
                group, outer = stack.pop()
                _close(group, text, i)
                cur = outer
                if not stack:
                    level -= 1
                i = group.end
                run_start = segment = i
                continue
            level -= 1
            cur.append(Text(i, i + 1, ")", ")", Text.STRAY if level == -1 else Text.INERT))
            i += 1
            run_start = i
            continue
        i += 1
    flush(n)
    return root


def _close(group: Group, text: str, close: int) -> None:
    """Close a group at ``text[close] == ')'``: ComfyUI's ``rfind(':')`` + ``float()`` weight test."""
    group.closed = True
    group.end = close + 1
    group.close = ")"
    children = group.children
    # ComfyUI takes the last ':' inside if float() accepts all that follows it: that can only be in the
    # group's own trailing text (after its last nested group or escape, which float() would reject).
    k = len(children)
    while k and type(children[k - 1]) is not Group and not (
            type(children[k - 1]) is Text and children[k - 1].kind == Text.ESCAPE):
        k -= 1
    tail_start = children[k].start if k < len(children) else close
    colon = text.rfind(":", tail_start, close)
    if colon <= group.start + 1:  # none, or the first character inside (ComfyUI needs xx > 0)
        return
    try:
        weight = float(text[colon + 1:close])
    except ValueError:
        return
    group.kind = "weight"
    group.multiplier = weight
    group.absolute = True
    group.close = text[colon:close + 1]
    # the weight leaves the content: the trailing text is split again, up to the colon
    segment = group.start + 1
    for child in children[:k]:
        if type(child) is Group:
            segment = child.end
    kept = children[:k]
    _text_nodes(text, tail_start, colon, kept, segment)
    group.children = kept


def _literal_nodes(text: str, a: int, b: int) -> list[Node]:
    """The inside of an unclosed item: all text; its brackets are INERT, ``\\(`` still an escape."""
    out: list[Node] = []
    run = a
    i = a
    while i < b:
        c = text[i]
        if c == "\\" and i + 1 < b and text[i + 1] in "()":
            _text_nodes(text, run, i, out, a - 1)
            out.append(Text(i, i + 2, text[i:i + 2], text[i + 1], Text.ESCAPE))
            i += 2
            run = i
            continue
        if c in "()":
            _text_nodes(text, run, i, out, a - 1)
            out.append(Text(i, i + 1, c, c, Text.INERT))
            run = i + 1
        i += 1
    _text_nodes(text, run, b, out, a - 1)
    return out


def _text_nodes(text: str, a: int, b: int, out: list[Node], segment: int) -> None:
    """Plain text ``text[a:b]``: Text runs, commas and newlines as Separators, ``embedding:name`` nodes.

    ``segment`` is where ComfyUI's segment holding this text begins: it splits off ``embedding:`` there or
    after whitespace."""
    if a >= b:
        return
    run = text[a:b]
    if "embedding:" in run:
        last = a
        for m in _EMBEDDING.finditer(text, a, b):
            s = m.start()
            # ComfyUI splits a segment at "embedding:" that starts it or follows whitespace
            if s < last or not (s == segment or text[s - 1].isspace()):
                continue
            e = m.end()
            while e < b and not text[e].isspace() and text[e] not in ",<[":
                e += 1
            if e == m.end():
                continue
            _plain(text, last, s, out)
            out.append(Embedding(s, e, text[s:e], text[m.end():e]))
            last = e
        _plain(text, last, b, out)
        return
    _plain(text, a, b, out)


def _plain(text: str, a: int, b: int, out: list[Node]) -> None:
    pos = a
    while pos < b:
        m = _SEPARATOR.search(text, pos, b)
        if m is None:
            out.append(Text(pos, b, text[pos:b], text[pos:b]))
            return
        if m.start() > pos:
            out.append(Text(pos, m.start(), text[pos:m.start()], text[pos:m.start()]))
        out.append(Separator(m.start(), m.end(), m.group()))
        pos = m.end()


_SEPARATOR = re.compile(r"[,\n]")


def comfy_segments(children: list[Node]) -> list[tuple[str, float, list[Node]]]:
    """ComfyUI's ``token_weights`` of a tree: (segment text, weight, the nodes it came from), in order.

    A segment is the text between groups at one level (``\\(`` unescaped), or a whole unclosed item with its
    ``(``. Weights multiply by 1.1 per group from the outside in, and a ``(x:w)`` group sets ``w``, exactly
    as ComfyUI computes them. Embedding nodes stay in their segment (the encoder places their vectors).
    """
    out: list[tuple[str, float, list[Node]]] = []
    stack = [(iter(children), 1.0)]
    texts: list[str] = []
    nodes: list[Node] = []
    weight_of_run = 1.0

    def flush() -> None:
        if nodes:
            out.append(("".join(texts), weight_of_run, nodes[:]))
        texts.clear()
        nodes.clear()

    while stack:
        it, weight = stack[-1]
        for node in it:
            if type(node) is Group:
                flush()
                if not node.closed:  # an unclosed item: one literal segment, opener included
                    out.append((node.open + "".join(_value(c) for c in node.children), weight, [node]))
                    continue
                inner = node.multiplier if node.absolute else weight * 1.1
                stack.append((iter(node.children), inner))
                break
            if not nodes:
                weight_of_run = weight
            texts.append(_value(node))
            nodes.append(node)
        else:
            flush()
            stack.pop()
    return out


def _value(node: Node) -> str:
    if type(node) is Text:
        return node.value
    return node.raw  # type: ignore[attr-defined]
