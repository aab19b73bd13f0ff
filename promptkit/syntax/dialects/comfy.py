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
    # Pass 1: ComfyUI's nesting counter and the bracket pairs it forms. Below zero (after a stray ")") a "("
    # only brings the counter back up and a ")" takes it further down: both are text.
    match: dict[int, int] = {}  # "(" -> its ")"
    inert: set[int] = set()
    stray: set[int] = set()
    level = 0
    opened: list[int] = []
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "()":
            i += 2
            continue
        if c == "(":
            if level < 0:
                inert.add(i)
            else:
                opened.append(i)
            level += 1
        elif c == ")":
            if level <= 0:
                (stray if level == 0 else inert).add(i)
            else:
                match[opened.pop()] = i
            level -= 1
        i += 1

    # Pass 2: the items of each level. A "(" that closes in its level is a group; one that does not starts
    # ComfyUI's last item of the level, which runs to the level's end: a group if that end is ")", else text.
    root: list[Node] = []
    # (nodes, at, end, group whose inside this is, where the current segment began)
    frames: list[tuple[list[Node], int, int, Group | None, int]] = [(root, 0, n, None, 0)]
    while frames:
        out, i, b, owner, segment = frames.pop()
        run = i
        while i < b:
            c = text[i]
            if c == "\\" and i + 1 < b and text[i + 1] in "()":
                _text_nodes(text, run, i, out, segment)
                out.append(Text(i, i + 2, text[i:i + 2], text[i + 1], Text.ESCAPE))
                i += 2
                run = i
                continue
            if c == ")" and (i in stray or i in inert):
                _text_nodes(text, run, i, out, segment)
                out.append(Text(i, i + 1, ")", ")", Text.STRAY if i in stray else Text.INERT))
                i += 1
                run = i
                continue
            if c != "(":
                i += 1
                continue
            _text_nodes(text, run, i, out, segment)
            if i in inert:
                out.append(Text(i, i + 1, "(", "(", Text.INERT))
                i += 1
                run = i
                continue
            close = match.get(i, b)
            if close < b:
                close_at = close
            elif b - 1 > i and text[b - 1] == ")" and text[b - 2] != "\\":  # (an escaped "\\)" is no ")")
                close_at = b - 1  # the level's last item is "(...)": ComfyUI reads it as a group
            else:  # the level's last item never closes: literal text at the level's weight
                group = Group(i, "round", "(", 1.0)
                group.children = _literal_nodes(text, i + 1, b)
                group.end = b
                out.append(group)
                run = b
                break
            group = Group(i, "round", "(", 1.1)
            group.end = close_at + 1
            out.append(group)
            # finish this level after the group, then read the group's inside (a stack, not recursion)
            frames.append((out, close_at + 1, b, owner, close_at + 1))
            frames.append((group.children, i + 1, close_at, group, i + 1))
            run = -1  # this frame is done; the rest of the level is the frame pushed above
            break
        if run == -1:
            continue
        _text_nodes(text, run, b, out, segment)
        if owner is not None:
            again = _close(owner, text, b)
            if again is not None:
                frames.append((owner.children, again[0], again[1], None, again[2]))
    return root


def _close(group: Group, text: str, close: int) -> tuple[int, int, int] | None:
    """Close a group at ``text[close] == ')'`` with ComfyUI's ``rfind(':')`` + ``float()`` weight test.

    When the group has a weight, its content ends at the colon: the nodes from the one holding the colon on
    are dropped, and the range (start, colon, segment start) to read again into the group is returned.
    """
    group.closed = True
    group.end = close + 1
    group.close = ")"
    # float() rejects any bracket, so the colon that counts lies after the content's last bracket: look back
    # only that far (linear however deep groups nest; ComfyUI's rfind rescans every level).
    p = close - 1
    while p > group.start and text[p] not in "():":
        p -= 1
    if text[p] != ":" or p <= group.start + 1:  # none, or the first character inside (ComfyUI needs xx > 0)
        return None
    try:
        weight = float(text[p + 1:close])
    except ValueError:
        return None
    group.kind = "weight"
    group.multiplier = weight
    group.absolute = True
    group.close = text[p:close + 1]
    kept = []
    segment = group.start + 1
    for child in group.children:
        if child.end > p:
            break
        kept.append(child)
        if type(child) is Group:
            segment = child.end
    group.children = kept
    return (kept[-1].end if kept else group.start + 1), p, segment


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
    # One string for a run's raw and value (they are equal), one int per offset where nodes meet.
    pos = a
    while pos < b:
        m = _SEPARATOR.search(text, pos, b)
        if m is None:
            run = text[pos:b]
            out.append(Text(pos, b, run, run))
            return
        s, e = m.span()
        if s > pos:
            run = text[pos:s]
            out.append(Text(pos, s, run, run))
        out.append(Separator(s, e, m.group()))
        pos = e


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
                    nodes_of = [Text(node.start, node.start + 1, "(", "(", Text.INERT)] + list(node.children)
                    out.append(("".join(_value(c) for c in nodes_of), weight, nodes_of))
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
