"""Edits that remove a tag without breaking the syntax around it.

Removing ``b`` from ``(b:1.2), c`` must take the group with it, or the prompt keeps a ``(:1.2)`` that
A1111 reads as text; removing the last tag of ``((b))`` must not leave ``(())``. Tags inside prompt editing
or alternation (``[a:b:0.5]``) are never removed: an empty branch means "add at step N", not "nothing".
"""

from __future__ import annotations

from bisect import bisect_right

from ..syntax.ast import Alternation, Group, Node, Schedule, Text
from ..syntax.prompt import Prompt, Tag
from .diagnostics import Edit


class Parents:
    """Which container encloses each leaf and each group of a tree (built once, in one walk)."""

    def __init__(self, prompt: Prompt) -> None:
        # id(container) -> the container around it; containers at top level are left out (read with .get).
        # Leaves, far more numerous, keep theirs in a list beside their starts (no id int and dict entry each).
        self.of: dict[int, Node] = {}
        self.leaf_starts: list[int] = []
        self.leaf_parents: list[Node | None] = []  # per leaf: the innermost container around it
        self.outer: list[Group | None] = []  # per leaf: the outermost group around it
        if prompt.plain_caption:
            return  # no syntax, so no container: every tag is at top level (and the tree need not be built)
        stack: list[tuple[list[Node], Node | None, Group | None, int]] = [(prompt.children, None, None, 0)]
        while stack:
            nodes, parent, outer, i = stack.pop()
            while i < len(nodes):
                node = nodes[i]
                i += 1
                t = type(node)
                if t is Text:
                    self.leaf_starts.append(node.start)
                    self.leaf_parents.append(parent)
                    self.outer.append(outer)
                elif t is Group or t is Schedule or t is Alternation:
                    if parent is not None:
                        self.of[id(node)] = parent
                    stack.append((nodes, parent, outer, i))
                    inner_outer = outer if outer is not None or t is not Group else node
                    stack.append((node.children, node, inner_outer, 0))  # type: ignore[attr-defined]
                    break

    def container(self, tag: Tag) -> Node | None:
        """The innermost group, schedule or alternation holding ``tag`` (None at top level)."""
        i = bisect_right(self.leaf_starts, tag.start) - 1
        if i < 0:
            return None
        return self.leaf_parents[i]

    def outermost(self, tag: Tag) -> Group | None:
        """The outermost group holding ``tag`` (None at top level)."""
        i = bisect_right(self.leaf_starts, tag.start) - 1
        return self.outer[i] if i >= 0 else None

    def in_branch(self, tag: Tag) -> bool:
        node = self.container(tag)
        while node is not None:
            if type(node) is not Group:
                return True
            node = self.of.get(id(node))
        return False


def _only_content(text: str, group: Group, start: int, end: int) -> bool:
    if not group.closed:
        return False
    inner_start, inner_end = group.start + len(group.open), group.end - len(group.close)
    return not text[inner_start:start].strip() and not text[end:inner_end].strip()


def removal_edit(text: str, parents: Parents, tag: Tag) -> Edit | None:
    """Remove ``tag`` with the separator that follows it (or, last, precedes it), and every group it alone
    fills. None for a tag inside prompt editing or alternation."""
    if parents.in_branch(tag):
        return None
    start, end = tag.start, tag.end
    node = parents.container(tag)
    while type(node) is Group and _only_content(text, node, start, end):  # type: ignore[arg-type]
        start, end = node.start, node.end  # type: ignore[union-attr]
        node = parents.of.get(id(node))
    return separated_removal(text, start, end)


def separated_removal(text: str, start: int, end: int) -> Edit:
    """Remove ``text[start:end]`` together with the separator that follows it (or, last, precedes it)."""
    after = end
    while after < len(text) and text[after] in " \t":
        after += 1
    if after < len(text) and text[after] == ",":
        after += 1
        while after < len(text) and text[after] in " \t":
            after += 1
        return Edit(start, after, "")
    before = start
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    if before > 0 and text[before - 1] == ",":
        before -= 1
    return Edit(before, end, "")
