"""The dialect-neutral, lossless prompt tree.

Every dialect parser produces these nodes and every renderer consumes them (the sqlglot model). Nodes are
plain classes with ``__slots__``: dataset work builds millions of them. Each node keeps its source span
(``start``/``end`` character offsets) and the exact source text of its delimiters, so rendering an
unmodified tree in its own dialect gives the input back byte for byte.

Walking code in this package is iterative (explicit stacks), never recursive: a prompt of 10,000 nested
brackets must not hit Python's recursion limit.
"""

from __future__ import annotations

from typing import Iterator


class Node:
    __slots__ = ("start", "end")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.start}:{self.end})"


class Text(Node):
    """A run of literal characters.

    ``raw`` is the source text; ``value`` what it means (an escape ``\\(`` has value ``(``).
    ``kind`` says where it came from, because A1111's weighting treats some runs specially.
    """

    __slots__ = ("raw", "value", "kind")

    PLAIN = 0
    ESCAPE = 1  # \( \) \[ \] \\ : the escaped character
    BACKSLASH = 2  # a lone backslash: A1111 drops it when weighting; tags keep it (``\m/``)
    STRAY = 3  # a closing bracket with nothing open: A1111 reads it as text
    COLON = 4  # a ':' (text in weighting, a delimiter inside ``[a:b:when]``)
    PIPE = 5  # a '|' (text in weighting, a delimiter inside ``[a|b]``)
    INERT = 6  # a bracket its dialect reads as plain text (ComfyUI: inside an unclosed '(', after a stray ')')
    SYNTAX = 7  # operator text that is no prompt text: compel's ``.swap(``, ``, s_start=0.2``, ``,`` in a blend

    def __init__(self, start: int, end: int, raw: str, value: str, kind: int = 0) -> None:
        self.start = start
        self.end = end
        self.raw = raw
        self.value = value
        self.kind = kind

    def __repr__(self) -> str:
        return f"Text({self.raw!r})"


class Separator(Node):
    """A comma or a newline: the boundary between tags."""

    __slots__ = ("raw",)

    def __init__(self, start: int, end: int, raw: str) -> None:
        self.start = start
        self.end = end
        self.raw = raw

    def __repr__(self) -> str:
        return f"Separator({self.raw!r})"


class Break(Node):
    """The ``BREAK`` keyword (with the whitespace A1111's regex swallows around it): start a new 75-token chunk."""

    __slots__ = ("raw",)

    def __init__(self, start: int, end: int, raw: str) -> None:
        self.start = start
        self.end = end
        self.raw = raw

    def __repr__(self) -> str:
        return f"Break({self.raw!r})"


class And(Node):
    """The ``AND`` keyword separating composable sub-prompts (their weights live in ``Prompt.subprompts``)."""

    __slots__ = ("raw",)

    def __init__(self, start: int, end: int, raw: str) -> None:
        self.start = start
        self.end = end
        self.raw = raw


class Group(Node):
    """A weighted group.

    ``kind`` records how it was written, so it can be written back the same way:
    ``round`` ``(x)``, ``square`` ``[x]``, ``curly`` ``{x}`` (NovelAI), ``weight`` ``(x:1.2)``,
    ``nai_weight`` ``1.2::x::``, ``compel_weight`` ``(x)1.2`` / ``(x)++``, ``compel_word`` ``x++``.
    ``multiplier`` is the factor this group applies; ``absolute`` is true where the weight replaces the outer
    one instead of multiplying it (ComfyUI's ``(x:1.2)``). ``closed`` is false for an unbalanced opener,
    which A1111 applies up to the end of the prompt.
    """

    __slots__ = ("kind", "open", "close", "children", "multiplier", "closed", "absolute")

    def __init__(self, start: int, kind: str, open_: str, multiplier: float) -> None:
        self.start = start
        self.end = start
        self.kind = kind
        self.open = open_
        self.close = ""
        self.children: list[Node] = []
        self.multiplier = multiplier
        self.closed = False
        self.absolute = False

    def __repr__(self) -> str:
        return f"Group({self.kind}, {self.multiplier:g}, {self.children!r})"


class Schedule(Node):
    """A1111 prompt editing ``[before:after:when]`` / ``[after:when]`` / ``[before::when]``.

    ``children`` is the raw content between the brackets (for rendering); ``before`` and ``after`` are the
    node lists of the two branches and ``when`` the switch point (a fraction of steps below 1, else a step).
    """

    __slots__ = ("open", "close", "children", "before", "after", "when", "when_raw")

    def __init__(self, start: int, end: int, open_: str, close: str, children: list[Node],
                 before: list[Node], after: list[Node], when: float, when_raw: str) -> None:
        self.start = start
        self.end = end
        self.open = open_
        self.close = close
        self.children = children
        self.before = before
        self.after = after
        self.when = when
        self.when_raw = when_raw

    def branches(self) -> list[tuple[str | None, list[Node]]]:
        return [("before", self.before), ("after", self.after)]


class Alternation(Node):
    """A1111 alternation ``[a|b|c]``: one option per sampling step, in turn."""

    __slots__ = ("open", "close", "children", "options")

    def __init__(self, start: int, end: int, open_: str, close: str, children: list[Node],
                 options: list[list[Node]]) -> None:
        self.start = start
        self.end = end
        self.open = open_
        self.close = close
        self.children = children
        self.options = options

    def branches(self) -> list[tuple[str | None, list[Node]]]:
        return [(str(i), option) for i, option in enumerate(self.options)]


class ExtraNetwork(Node):
    """``<lora:name:0.8>``, ``<lyco:...>``, ``<hypernet:...>``: A1111 extra networks, not text."""

    __slots__ = ("raw", "kind", "name", "args")

    def __init__(self, start: int, end: int, raw: str, kind: str, name: str, args: list[str]) -> None:
        self.start = start
        self.end = end
        self.raw = raw
        self.kind = kind
        self.name = name
        self.args = args

    @property
    def multiplier(self) -> float:
        """The first numeric argument (the strength A1111 applies), 1.0 when absent."""
        for arg in self.args:
            try:
                return float(arg)
            except ValueError:
                continue
        return 1.0

    def __repr__(self) -> str:
        return f"ExtraNetwork({self.raw!r})"


class Embedding(Node):
    """ComfyUI's ``embedding:name`` textual-inversion reference."""

    __slots__ = ("raw", "name")

    def __init__(self, start: int, end: int, raw: str, name: str) -> None:
        self.start = start
        self.end = end
        self.raw = raw
        self.name = name


class Blend(Node):
    """compel ``("a", "b").blend(0.7, 0.3)`` (``op="blend"``) or ``("a", "b").and()`` (``op="and"``).

    The sub-prompts are combined by their embeddings, not as text: a blend is their weighted average
    (``normalize``: divided by the sum of the weights, unless ``no_normalize``), ``and`` concatenates them.
    ``parts`` holds each sub-prompt's nodes (a quoted group, a parenthesized group or a word); ``weights``
    the numbers written (empty: 1.0 each). ``children`` is the whole source between ``open`` (``(``) and
    ``close`` (``).blend(...)``) for rendering, with the commas between parts as SYNTAX text.
    """

    __slots__ = ("open", "close", "children", "op", "parts", "weights", "normalize")

    def __init__(self, start: int, end: int, open_: str, close: str, children: list[Node], op: str,
                 parts: list[list[Node]], weights: list[float], normalize: bool = True) -> None:
        self.start = start
        self.end = end
        self.open = open_
        self.close = close
        self.children = children
        self.op = op
        self.parts = parts
        self.weights = weights
        self.normalize = normalize

    @property
    def raw(self) -> str:  # noqa: D401 - the source text, as leaves have it
        return render_source([self])

    def branches(self) -> list[tuple[str | None, list[Node]]]:
        return [(str(i) if self.op == "blend" else None, part) for i, part in enumerate(self.parts)]


class Swap(Node):
    """compel's cross-attention edit ``cat.swap(dog)`` / ``(a cat).swap(a dog, s_start=0.2)``.

    ``original`` is what the prompt's conditioning encodes, ``replacement`` what the attention maps are
    moved to (prompt-to-prompt editing, which needs a pipeline that does it). ``children`` is the whole source
    (the target, then the ``.swap(``, the replacement and options as SYNTAX text and nodes), ``close`` is ``)``.
    """

    __slots__ = ("open", "close", "children", "original", "replacement", "options")

    def __init__(self, start: int, end: int, children: list[Node], original: list[Node],
                 replacement: list[Node], options: str, close: str) -> None:
        self.start = start
        self.end = end
        self.open = ""
        self.close = close
        self.children = children
        self.original = original
        self.replacement = replacement
        self.options = options

    def branches(self) -> list[tuple[str | None, list[Node]]]:
        return [("original", self.original), ("replacement", self.replacement)]


LEAF_TYPES = (Text, Separator, Break, And, ExtraNetwork, Embedding)
CONTAINER_TYPES = (Group, Schedule, Alternation, Swap, Blend)
# Containers whose content splits into alternatives (``branches()``): a tag inside lives in one branch.
BRANCHING_TYPES = (Schedule, Alternation, Swap, Blend)


def iter_nodes(children: list[Node]) -> Iterator[Node]:
    """Every node of a tree in source order, depth first, without recursion."""
    stack = [iter(children)]
    while stack:
        for node in stack[-1]:
            yield node
            inner = getattr(node, "children", None)
            if inner is not None:
                stack.append(iter(inner))
                break
        else:
            stack.pop()


def render_source(children: list[Node]) -> str:
    """The exact source text of a (sub)tree: the lossless rendering in the tree's own dialect."""
    out: list[str] = []
    append = out.append
    # The stack as two lists (iterators, the closers to write after them): no tuple per level of nesting.
    stack: list[Iterator[Node]] = [iter(children)]
    closers: list[str] = [""]
    while stack:
        for node in stack[-1]:
            children = getattr(node, "children", None)
            if children is None:
                append(node.raw)  # type: ignore[attr-defined]
                continue
            append(node.open)  # type: ignore[attr-defined]
            stack.append(iter(children))
            closers.append(node.close)  # type: ignore[attr-defined]
            break
        else:
            stack.pop()
            append(closers.pop())
    return "".join(out)
