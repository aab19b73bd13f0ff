"""``Prompt``: a parsed prompt, with the views people need (tags, weights, networks, AND parts)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from .._resources import known_namespaces
from .ast import (
    BRANCHING_TYPES,
    Alternation,
    And,
    Blend,
    Break,
    Embedding,
    ExtraNetwork,
    Group,
    Node,
    Schedule,
    Separator,
    Swap,
    Text,
    iter_nodes,
    render_source,
)
from .tag_list import Tag, TagList, make_tag_list, tag_from_pieces

if TYPE_CHECKING:
    from ..tags.db import TagDB


@dataclass(frozen=True)
class SubPrompt:
    """One ``AND`` part of a prompt with its composable-diffusion weight (``a :1.2 AND b``)."""

    text: str
    weight: float
    start: int
    end: int


_RE_AND = re.compile(r"\bAND\b")
_RE_AND_NUMBER = re.compile(r"[-+]?(?:\d+\.?|\d*\.\d+)")


def split_subprompts(text: str) -> list[SubPrompt]:
    """A1111's ``AND`` split: every ``AND`` (even inside brackets) separates, a trailing ``:w`` is the weight.

    A1111's weight pattern ``\\s*:\\s*(number)\\s*$`` is applied by hand: the number can only follow the last
    colon of a part, so that colon is found with ``rfind`` (the regex, retried at every space of a long
    whitespace run, is quadratic).
    """
    parts: list[SubPrompt] = []
    last = 0
    bounds = [(m.start(), m.end()) for m in _RE_AND.finditer(text)] + [(len(text), len(text))]
    for s, e in bounds:
        chunk = text[last:s]
        colon = chunk.rfind(":")
        if colon != -1 and _RE_AND_NUMBER.fullmatch(chunk[colon + 1:].strip()):
            body = chunk[:colon].rstrip()
            parts.append(SubPrompt(body, float(chunk[colon + 1:].strip()), last, last + len(body)))
        else:
            stripped = chunk.rstrip()
            parts.append(SubPrompt(stripped, 1.0, last, last + len(stripped)))
        last = e
    return parts


class Prompt:
    """A parsed prompt: a lossless tree plus the views people need (tags, weights, networks, AND parts)."""

    __slots__ = ("source", "dialect", "_children", "_tags", "_a1111_leaves", "namespaces", "plain_caption")

    def __init__(self, source: str, dialect: str, children: list[Node] | None, tags: TagList | None = None,
                 namespaces: frozenset[str] | None = None) -> None:
        self.source = source
        self.dialect = dialect
        self._children = children
        # parsed without syntax (no children given): its tree is Text runs and the separators between them
        self.plain_caption = children is None
        self._tags = tags
        self._a1111_leaves: tuple[list[Node], list[float]] | None = None
        self.namespaces = namespaces

    @property
    def children(self) -> list[Node]:
        """The top-level nodes. A plain caption builds them on first use (its tags need no tree)."""
        if self._children is None:
            self._children = plain_caption_nodes(self.source)
        return self._children

    # -- text ---------------------------------------------------------------------------------------------
    def render(self, dialect: str | None = None) -> str:
        """The prompt as text: the original byte for byte with no dialect, else the same meaning in ``dialect``."""
        if dialect is None or dialect == self.dialect:
            return render_source(self.children)
        from .render import render

        return render(self, dialect)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Prompt({self.source!r}, dialect={self.dialect!r})"

    # -- structure ----------------------------------------------------------------------------------------
    def walk(self) -> Iterator[Node]:
        """Every node in source order (iterative, safe on deep nesting)."""
        return iter_nodes(self.children)

    @property
    def loras(self) -> list[ExtraNetwork]:
        """Extra networks (``<lora:name:0.8>``, ``<hypernet:...>``) in source order."""
        return [n for n in self.walk() if type(n) is ExtraNetwork]

    @property
    def embeddings(self) -> list[Embedding]:
        return [n for n in self.walk() if type(n) is Embedding]

    @property
    def subprompts(self) -> list[SubPrompt]:
        """``AND`` parts with their weights (one part when there is no ``AND``)."""
        if "AND" not in self.source:
            return [SubPrompt(self.source, 1.0, 0, len(self.source))]
        return split_subprompts(self.source)

    @property
    def has_schedules(self) -> bool:
        return any(type(n) in (Schedule, Alternation) for n in self.walk())

    # -- weights ------------------------------------------------------------------------------------------
    def weighted(self) -> list[tuple[str, float]]:
        """(text, weight) fragments with adjacent equal weights merged, ``("BREAK", -1)`` for BREAK.

        For the a1111 dialect this is exactly what A1111's ``parse_prompt_attention`` returns.
        """
        if self.dialect == "a1111":
            from .dialects.brackets import a1111_fragments

            return a1111_fragments(*self._replay_a1111())
        res: list[tuple[str, float]] = []
        parts: list[str] = []  # the text of the fragment being merged, joined once it ends
        current = 0.0
        compel = self.dialect == "compel"
        for node, weight in weighted_leaves(self):
            t = type(node)
            if t is ExtraNetwork and compel:
                continue  # compel takes its lora calls out of the text
            if t is Break:
                if parts:
                    res.append(("".join(parts), current))
                    parts = []
                res.append(("BREAK", -1.0))
                continue
            value = node.value if t is Text else node.raw  # type: ignore[attr-defined]
            if parts and current == weight:
                parts.append(value)
            else:
                if parts:
                    res.append(("".join(parts), current))
                    parts = []
                parts.append(value)
                current = weight
        if parts:
            res.append(("".join(parts), current))
        return res or [("", 1.0)]

    def leaf_weights(self) -> list[tuple[Node, float]]:
        """Every leaf with its effective weight: A1111's exact replay for the a1111 dialect, else the tree's."""
        if self.dialect == "a1111":
            from .dialects.brackets import EMPTY_FRAGMENT

            leaves, weights = self._replay_a1111()
            return [(n, w) for n, w in zip(leaves, weights) if n is not EMPTY_FRAGMENT]
        return list(weighted_leaves(self))

    def _replay_a1111(self) -> tuple[list[Node], list[float]]:
        """A1111's own weighting of every leaf (with the empty fragments around BREAK), computed once:
        the leaves and their weights, two parallel lists."""
        if self._a1111_leaves is None:
            from .dialects.brackets import a1111_weighted_leaves

            self._a1111_leaves = a1111_weighted_leaves(self.children)
        return self._a1111_leaves

    # -- tags ---------------------------------------------------------------------------------------------
    @property
    def tags(self) -> TagList:
        """Every tag in source order (a sequence of :class:`Tag`, with its columns: ``tags.names``...)."""
        if self._tags is None:
            from .parser import paused_gc

            with paused_gc(len(self.source)):
                self._tags = extract_tags(self)
        return self._tags

    def resolve(self, db: "TagDB") -> "Prompt":
        """Attach the database entry (or None) to every tag's ``info``; returns the prompt."""
        for tag in self.tags:
            tag.info = db.lookup(tag.qualified_name if tag.namespace else tag.name)
        return self


# -- weights from the tree ------------------------------------------------------------------------------------

# A chain of enclosing groups is a linked list ``(innermost group, outer chain)`` ending in ``None``, so that
# entering a group is O(1) however deep the nesting (a tuple copy per level would be quadratic).
Chain = "tuple[Group, Chain] | None"


def chain_groups(chain) -> tuple[Group, ...]:
    """The groups of a chain, outermost first."""
    groups = []
    while chain is not None:
        groups.append(chain[0])
        chain = chain[1]
    groups.reverse()
    return tuple(groups)


EXACT_DEPTH = 64  # nesting up to which a tag's weight is folded in A1111's own order, bit for bit
DEEP = EXACT_DEPTH + 1  # the depth walks record for anything deeper (a small int: no 32-byte object per level)


def fold_weight(chain) -> float:
    """The effective weight of text inside ``chain``, in the order its dialect applies it.

    A1111 multiplies as each bracket closes (innermost first), then applies unclosed ``(`` and then
    unclosed ``[`` from the outside in. ComfyUI's ``(x:w)`` replaces the outer weight instead.
    """
    if chain is None:
        return 1.0
    if chain[1] is None and chain[0].closed and not chain[0].absolute:
        return 1.0 * chain[0].multiplier  # the common case: one closed group
    chain = chain_groups(chain)
    if any(g.absolute for g in chain):
        return _fold_outer_first(chain)
    w = 1.0
    unclosed = []
    for g in reversed(chain):
        if g.closed:
            w *= g.multiplier
        else:
            unclosed.append(g)
    if unclosed:
        unclosed.reverse()
        for g in unclosed:
            if g.open == "(":
                w *= g.multiplier
        for g in unclosed:
            if g.open != "(":
                w *= g.multiplier
    return w


def _fold_outer_first(groups) -> float:
    """ComfyUI's order: each group multiplies the weight around it (by 1.1) or replaces it (``(x:1.2)``)."""
    w = 1.0
    for g in groups:
        w = g.multiplier if g.absolute else w * g.multiplier
    return w


class WeightFolder:
    """``fold_weight`` for every chain of one tree, in time linear in the tree however deep it nests.

    Folding each chain from scratch costs its depth, so text at every level of 10,000 nested brackets would
    be quadratic. Here every chain's weight is kept (by ``id``: the chains live as long as the folder's user
    holds the tree) and derived from its parent's. ComfyUI's order (``outer_first``) is exactly that
    derivation. A1111's order starts at the innermost bracket, which no parent shares; it is followed bit for
    bit up to ``EXACT_DEPTH`` levels, and below that the parent's weight is multiplied by the group's factor
    (the same product up to rounding in the last bits; no real prompt nests 64 deep).
    """

    __slots__ = ("depths", "memo", "outer_first")

    def __init__(self, outer_first: bool = False) -> None:
        # innermost group -> weight (a group has one chain of groups around it in a tree; groups hash by
        # identity). Depths are kept only up to EXACT_DEPTH: a group with a weight and no depth is deeper.
        # One float per group and no tuple: text at every level of 10,000 brackets has 10,000 entries.
        self.memo: dict[Group, float] = {}
        self.depths: dict[Group, int] = {}
        self.outer_first = outer_first

    def __call__(self, chain) -> float:
        if chain is None:
            return 1.0
        group = chain[0]
        if chain[1] is None and group.closed and not group.absolute:
            return 1.0 * group.multiplier
        memo = self.memo
        found = memo.get(group)
        if found is not None:
            return found
        pending = []  # chains without a weight yet, innermost first
        node = chain
        while node is not None and node[0] not in memo:
            pending.append(node)
            node = node[1]
        if node is None:
            weight, depth = 1.0, 0
        else:
            weight, depth = memo[node[0]], self.depths.get(node[0], EXACT_DEPTH + 1)
        depths = self.depths
        for node in reversed(pending):
            depth += 1
            group = node[0]
            if self.outer_first:
                weight = group.multiplier if group.absolute else weight * group.multiplier
            elif depth <= EXACT_DEPTH:
                weight = fold_weight(node)
            else:
                weight = weight * group.multiplier
            memo[group] = weight
            if depth <= EXACT_DEPTH:
                depths[group] = depth
        return weight


def path_weight(chains: list, weights: list[float | None], depths: list[int], outer_first: bool) -> float:
    """The weight of the innermost frame of a depth-first walk, as :class:`WeightFolder` gives it.

    A walk keeps, per frame of its stack, the chain of groups around it, its weight (None until a leaf there
    needs it) and its group depth. A frame whose chain is the one below it (a branch of a schedule) has that
    frame's weight; any other frame is a group inside the frame below. The weights of the frames on the stack
    are all the memo a walk needs (``WeightFolder`` keeps one for every group of the tree).
    """
    top = len(weights) - 1
    known = top
    while weights[known] is None:
        known -= 1
    weight: float = weights[known]  # type: ignore[assignment]
    for i in range(known + 1, top + 1):
        chain = chains[i]
        if chain is not chains[i - 1]:
            group = chain[0]
            if outer_first:
                weight = group.multiplier if group.absolute else weight * group.multiplier
            elif depths[i] <= EXACT_DEPTH:
                weight = fold_weight(chain)
            else:
                weight = weight * group.multiplier
        weights[i] = weight
    return weight


def weighted_leaves(prompt: Prompt) -> Iterator[tuple[Node, float]]:
    """Leaves in order with the weight the tree gives them (schedules: the before branch, then after;
    a compel swap: its original side), without compel's operator text."""
    comfy = prompt.dialect == "comfy"
    # The walk's stack as parallel lists (no tuple per level of nesting): node iterators, and for path_weight
    # the chain of groups around each frame, its weight and its group depth.
    stack: list[Iterator[Node]] = [iter(prompt.children)]
    chains: list = [None]
    weights: list[float | None] = [1.0]
    depths: list[int] = [0]
    while stack:
        it = stack[-1]
        for node in it:
            t = type(node)
            if t is Group:
                if comfy and not node.closed:  # type: ignore[attr-defined]
                    # ComfyUI reads an unclosed "(" and all after it as text: the "(" is text too
                    weight = weights[-1]
                    if weight is None:
                        weight = path_weight(chains, weights, depths, comfy)
                    yield Text(node.start, node.start + 1, "(", "(", Text.INERT), weight
                stack.append(iter(node.children))  # type: ignore[attr-defined]
                chains.append((node, chains[-1]))
                weights.append(None)
                depths.append(min(depths[-1] + 1, DEEP))
                break
            if t in BRANCHING_TYPES:
                # a swap is encoded as its original side; the other containers as all they hold
                inner_nodes = node.original if t is Swap else node.children  # type: ignore[attr-defined]
                stack.append(iter(inner_nodes))
                chains.append(chains[-1])
                weights.append(weights[-1])
                depths.append(depths[-1])
                break
            if t is Text and node.kind == Text.SYNTAX:  # type: ignore[attr-defined]
                continue
            weight = weights[-1]
            if weight is None:  # computed on first use, so deep nesting without text stays linear
                weight = path_weight(chains, weights, depths, comfy)
            yield node, weight
        else:
            stack.pop()
            chains.pop()
            weights.pop()
            depths.pop()


# -- tags -----------------------------------------------------------------------------------------------------

def extract_tags(prompt: Prompt) -> TagList:
    """Split the finished tree into tags: boundaries are separators, BREAK/AND, brackets and extra networks.

    The bracket parsers collect tags while they build the tree; this walk serves compel and ComfyUI, prompts
    with schedules or alternation (whose branches are known only once the tree is done) and edited trees.

    A tag inside a schedule, alternation, swap or blend gets that branch's label (``schedule0:before``,
    ``alternation1:0``, ``swap0:replacement``, ``blend0:1``); labels are unique in a prompt, and for nested
    branches the label is the innermost one, its parents are in ``TagList.branch_parents`` (a label that
    spelled out the whole path would make deeply nested schedules quadratic in memory).
    """
    source = prompt.source
    raws: list[str] = []
    texts: list[str] = []
    starts: list[int] = []
    weights: list[float] = []
    branches: list[str | None] = []
    parents: dict[str, str | None] = {}
    pieces: list[Text] = []
    counters: dict[str, int] = {}
    outer_first = prompt.dialect == "comfy"
    # Beside the stack, for path_weight: each frame's chain of groups, weight (None until needed) and depth.
    chains: list = [None]
    frame_weights: list[float | None] = [1.0]
    depths: list[int] = [0]

    def flush(branch: str | None) -> None:
        found = tag_from_pieces(pieces, source)
        if found is not None:
            raws.append(found[0])
            texts.append(found[1])
            starts.append(found[2])
            weight = frame_weights[-1]
            weights.append(weight if weight is not None else path_weight(chains, frame_weights, depths,
                                                                           outer_first))
            branches.append(branch)
        pieces.clear()

    # Each frame: (iterator over nodes, branch label).
    stack: list[tuple[Iterator[Node], str | None]] = [(iter(prompt.children), None)]
    while stack:
        it, branch = stack[-1]
        for node in it:
            t = type(node)
            if t is Text:
                if node.kind != Text.SYNTAX:  # type: ignore[attr-defined]
                    pieces.append(node)  # type: ignore[arg-type]
                    continue
            if pieces:
                flush(branch)
            if t is Group:
                stack.append((iter(node.children), branch))  # type: ignore[attr-defined]
                chains.append((node, chains[-1]))
                frame_weights.append(None)
                depths.append(min(depths[-1] + 1, DEEP))
                break
            if t in BRANCHING_TYPES:
                kind = _BRANCH_NAMES[t]
                n = counters.get(kind, 0)
                counters[kind] = n + 1
                frames = []
                for label, nodes in node.branches():  # type: ignore[attr-defined]
                    if label is None:
                        frames.append((iter(nodes), branch))
                        continue
                    name = f"{kind}{n}:{label}"
                    parents[name] = branch
                    frames.append((iter(nodes), name))
                stack.extend(reversed(frames))
                # every branch has the groups (and the weight) of the frame it lies in
                chain, weight, depth = chains[-1], frame_weights[-1], depths[-1]
                chains.extend([chain] * len(frames))
                frame_weights.extend([weight] * len(frames))
                depths.extend([depth] * len(frames))
                break
            # Separator, Break, And, ExtraNetwork, Embedding, SYNTAX text: boundaries that are not tags
        else:
            if pieces:
                flush(branch)
            stack.pop()
            chains.pop()
            frame_weights.pop()
            depths.pop()
    known = prompt.namespaces if prompt.namespaces is not None else known_namespaces()
    tags = make_tag_list(raws, texts, starts, weights, branches if any(branches) else None, known)
    if parents:
        tags.branch_parents = parents
    return tags


_BRANCH_NAMES = {Schedule: "schedule", Alternation: "alternation", Swap: "swap", Blend: "blend"}


def tags_from_columns(columns, known: frozenset[str], dialect: str = "a1111") -> TagList:
    """The TagList of the tags a bracket parser collected (see ``dialects.brackets.TagColumns``).

    Weights are folded here, once every group is closed; neighbouring tags mostly share their groups.
    """
    chains = columns.chains
    weights = None
    if chains.count(None) != len(chains):
        fold = WeightFolder(outer_first=dialect == "comfy")
        weights = []
        last = None
        weight = 1.0
        for chain in chains:
            if chain is not last:
                last = chain
                weight = fold(chain)
            weights.append(weight)
    return make_tag_list(columns.raws, columns.texts, columns.starts, weights, None, known)


def plain_caption_nodes(source: str) -> list[Node]:
    """The tree of a plain caption: Text runs and the Separators between them."""
    children: list[Node] = []
    append = children.append
    pos = 0
    for piece in _RE_PLAIN.findall(source):
        end = pos + len(piece)
        if piece == "," or piece == "\n":
            append(Separator(pos, end, piece))
        else:
            append(Text(pos, end, piece, piece))
        pos = end
    return children


_RE_PLAIN = re.compile(r"[^,\n]+|[,\n]")

__all__ = ["Prompt", "Tag", "TagList", "SubPrompt", "Blend", "Break", "And", "Separator"]
