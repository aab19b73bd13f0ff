"""Printing a prompt tree for people (``promptkit parse``)."""

from __future__ import annotations

from typing import Iterator

from ..syntax.ast import Alternation, Group, Node, Schedule
from ..syntax.prompt import Prompt


def _label(node: Node) -> str:
    t = type(node)
    if t is Group:
        closed = "" if node.closed else " (unclosed)"
        return f"Group {node.kind} x{node.multiplier:.4g}{closed}"
    if t is Schedule:
        return f"Schedule when={node.when:g}"
    if t is Alternation:
        return f"Alternation {len(node.options)} options"
    raw = getattr(node, "raw", "")
    return f"{t.__name__} {raw!r}"


def tree_lines(prompt: Prompt) -> Iterator[str]:
    stack: list[tuple[Iterator[Node], int]] = [(iter(prompt.children), 0)]
    while stack:
        it, depth = stack[-1]
        for node in it:
            yield "  " * depth + f"{node.start}:{node.end} " + _label(node)
            children = getattr(node, "children", None)
            if children is not None:
                stack.append((iter(children), depth + 1))
                break
        else:
            stack.pop()
