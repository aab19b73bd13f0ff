"""``Tag`` and ``TagList``: the tags of a prompt, stored as columns and turned into objects only when asked.

Why columns: caption datasets parse millions of prompts of 20-40 tags each, and a Python object per tag costs
about 0.3 us, more than finding the tag does (``bench/bench_parse.py``). So the parser hands over whole
columns: the source text of every tag, its unescaped text, its normalized name (computed for all tags in a few
string operations) and its start offset, plus weights, branches and namespaces where a prompt has any. A tag's
span is ``start`` to ``start + len(raw)``, since ``raw`` is exactly the source between them.

``TagList`` is a read-only sequence of :class:`Tag`; it builds each ``Tag`` on first access and keeps it, so
``tag.info`` set by :meth:`Prompt.resolve` stays put and the same index gives the same object.
"""

from __future__ import annotations

from operator import add
from collections.abc import Sequence
from typing import TYPE_CHECKING, Iterator, overload

from .normalize import normalize_tag

if TYPE_CHECKING:
    from ..tags.db import TagInfo


class Tag:
    """One tag of a prompt: the text between commas (and newlines, BREAK, brackets) at its level.

    ``raw`` is the source text (``kazusa \\(blue archive\\)``), ``text`` what it says
    (``kazusa (blue archive)``), ``name`` the normalized database spelling (``kazusa_(blue_archive)``),
    ``namespace`` a recognised prefix (``species`` of ``species:seal``, whose ``name`` is then ``seal``).
    ``weight`` is the effective emphasis, ``branch`` the schedule/alternation branch it lives in
    (``None`` at top level), ``start``/``end`` its span in the source, ``index`` its position in
    ``Prompt.tags``. ``info`` is filled by :meth:`Prompt.resolve`.
    """

    __slots__ = ("raw", "text", "name", "namespace", "weight", "branch", "start", "end", "index", "info")

    def __init__(self, raw: str, text: str, name: str, namespace: str | None, weight: float,
                 branch: str | None, start: int, end: int, index: int) -> None:
        self.raw = raw
        self.text = text
        self.name = name
        self.namespace = namespace
        self.weight = weight
        self.branch = branch
        self.start = start
        self.end = end
        self.index = index
        self.info: TagInfo | None = None

    @property
    def trimmed(self) -> tuple[int, int]:
        """``start``/``end`` of the tag's source without the whitespace around it (where a fix of the whole
        tag goes)."""
        raw = self.raw
        return self.start + len(raw) - len(raw.lstrip()), self.start + len(raw.rstrip())

    @property
    def qualified_name(self) -> str:
        """``namespace:name`` when there is a namespace, else ``name``."""
        return f"{self.namespace}:{self.name}" if self.namespace else self.name

    def __repr__(self) -> str:
        extra = f", weight={self.weight:g}" if self.weight != 1.0 else ""
        ns = f"{self.namespace}:" if self.namespace else ""
        return f"Tag({ns}{self.name!r}{extra})"

    def to_dict(self) -> dict:
        return {
            "raw": self.raw, "text": self.text, "name": self.name, "namespace": self.namespace,
            "weight": self.weight, "branch": self.branch, "start": self.start, "end": self.end,
        }


class TagList(Sequence[Tag]):
    """The tags of a prompt in source order: a sequence of :class:`Tag`, and its columns.

    The columns ``raws``, ``texts``, ``names``, ``starts``, ``ends``, ``weights``, ``namespaces`` and
    ``branches`` are lists with one entry per tag; dataset code that only needs names reads ``names`` and never
    pays for the objects.
    """

    __slots__ = ("raws", "texts", "names", "starts", "_namespaces", "_weights", "_branches", "_objects",
                 "branch_parents")

    def __init__(self, raws: list[str], texts: list[str], names: list[str], starts: list[int],
                 weights: list[float] | None = None, branches: list[str | None] | None = None,
                 namespaces: list[str | None] | None = None) -> None:
        self.raws = raws
        self.texts = texts
        self.names = names
        self.starts = starts
        self._weights = weights  # None: every weight is 1.0
        self._branches = branches  # None: every tag is at top level
        self._namespaces = namespaces  # None: no tag has a namespace
        self._objects: list[Tag | None] | None = None
        self.branch_parents: dict[str, str | None] = {}  # nested branches: label -> the label it lies in

    def branch_path(self, index: int) -> tuple[str, ...]:
        """The branch labels of tag ``index`` from the outermost to its own (``()`` at top level)."""
        path = []
        label = self.branches[index]
        while label is not None:
            path.append(label)
            label = self.branch_parents.get(label)
        return tuple(reversed(path))

    # -- columns --------------------------------------------------------------------------------------------
    @property
    def ends(self) -> list[int]:
        return list(map(add, self.starts, map(len, self.raws)))

    @property
    def weights(self) -> list[float]:
        return self._weights if self._weights is not None else [1.0] * len(self.names)

    @property
    def branches(self) -> list[str | None]:
        return self._branches if self._branches is not None else [None] * len(self.names)

    @property
    def namespaces(self) -> list[str | None]:
        return self._namespaces if self._namespaces is not None else [None] * len(self.names)

    # -- the sequence of Tag objects -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    @overload
    def __getitem__(self, index: int) -> Tag: ...

    @overload
    def __getitem__(self, index: slice) -> list[Tag]: ...

    def __getitem__(self, index: int | slice) -> Tag | list[Tag]:
        if isinstance(index, slice):
            return self._materialize()[index]
        objects = self._objects
        if objects is None:
            objects = self._objects = [None] * len(self.names)
        tag = objects[index]  # raises IndexError like a list
        if tag is None:
            if index < 0:
                index += len(objects)
            tag = objects[index] = self._make(index)
        return tag

    def __iter__(self) -> Iterator[Tag]:
        return iter(self._materialize())

    def __bool__(self) -> bool:
        return bool(self.names)

    def __repr__(self) -> str:
        return f"TagList({self._materialize()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TagList):
            return self._materialize() == other._materialize()
        if isinstance(other, list):
            return self._materialize() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable objects inside, like a list

    def _make(self, i: int) -> Tag:
        raw = self.raws[i]
        start = self.starts[i]
        return Tag(raw, self.texts[i], self.names[i],
                   self._namespaces[i] if self._namespaces is not None else None,
                   self._weights[i] if self._weights is not None else 1.0,
                   self._branches[i] if self._branches is not None else None,
                   start, start + len(raw), i)

    def _materialize(self) -> list[Tag]:
        objects = self._objects
        if objects is None:
            objects = self._objects = list(map(
                Tag, self.raws, self.texts, self.names, self.namespaces, self.weights, self.branches,
                self.starts, self.ends, range(len(self.names))))
        elif None in objects:
            for i, tag in enumerate(objects):
                if tag is None:
                    objects[i] = self._make(i)
        return objects  # type: ignore[return-value]


# -- building the columns -----------------------------------------------------------------------------------

def normalize_names(texts: list[str], joined: str | None = None) -> list[str]:
    """``normalize_tag`` of every text, done on all of them at once where that gives the same answer.

    Tags never contain a newline (newlines separate tags in every dialect), so the texts are joined with
    newlines (``joined``, when the caller has it already), lowercased and split again; a tag with a run of
    spaces or another whitespace character would split differently, and then each is normalized on its own.
    """
    if not texts:
        return []
    lowered = ("\n".join(texts) if joined is None else joined).lower()
    if "  " not in lowered:
        names = lowered.replace(" ", "_").split()
        if len(names) == len(texts):
            return names
    return [_name(t) for t in texts]


def _name(text: str) -> str:
    name = _NAMES.get(text)
    if name is None:
        name = normalize_tag(text)
        if len(_NAMES) > _NAMES_LIMIT:  # datasets repeat the same few thousand tags: a bounded memo
            _NAMES.clear()
        _NAMES[text] = name
    return name


_NAMES: dict[str, str] = {}
_NAMES_LIMIT = 500_000


def split_namespaces(texts: list[str], names: list[str], known: frozenset[str]) -> list[str | None] | None:
    """Find ``species:seal``-style prefixes; rewrites ``names`` in place to the part after the prefix.

    Returns the namespace column, or None when no tag has a known namespace.
    """
    column: list[str | None] | None = None
    for i, text in enumerate(texts):
        colon = text.find(":")
        if colon > 0:
            prefix = text[:colon].strip().lower()
            if prefix in known:
                if column is None:
                    column = [None] * len(texts)
                column[i] = prefix
                names[i] = _name(text[colon + 1:])
    return column


def tag_from_pieces(pieces: list, source: str) -> tuple[str, str, int] | None:
    """The source text, unescaped text and start of a tag made of consecutive Text nodes; None if blank."""
    text = "".join([p.value for p in pieces]).strip()
    if not text:
        return None
    raw = source[pieces[0].start:pieces[-1].end]
    stripped = raw.strip()
    if stripped == text:  # no escapes: one string for both columns
        text = stripped
    return stripped, text, pieces[0].start + len(raw) - len(raw.lstrip())


def make_tag_list(raws: list[str], texts: list[str], starts: list[int], weights: list[float] | None,
                  branches: list[str | None] | None, known: frozenset[str]) -> TagList:
    """A TagList from the columns a parser collected: names and namespaces are computed here."""
    joined = "\n".join(texts)
    names = normalize_names(texts, joined)
    namespaces = split_namespaces(texts, names, known) if known and ":" in joined else None
    return TagList(raws, texts, names, starts, weights, branches, namespaces)


def split_caption(source: str, known: frozenset[str]) -> TagList:
    """The tags of text without any syntax: split at commas and newlines, trimmed, empty ones skipped.

    Tagger output (``tag, tag, tag``: one space after each comma, single spaces inside tags, no other
    whitespace; a trailing ``, `` is allowed) is read with a handful of whole-string operations; anything else
    goes piece by piece.
    """
    body = source.rstrip(" ,") if source[-1:] in (" ", ",") else source
    if (body and "  " not in body and " ," not in body and body[0] not in (" ", ",")
            and (not ("\n" in body or "\t" in body or "\r" in body or "\x0b" in body or "\x0c" in body
                      or "\x1c" in body or "\x1d" in body or "\x1e" in body or "\x1f" in body)
                 if body.isascii() else body.isprintable())):  # isprintable: no whitespace but " "
        texts = body.split(", ")
        if body.count(",") == len(texts) - 1:
            # Every comma has exactly one space after it and a tag is never empty or padded, so the names
            # come from the whole string and the starts from the lengths.
            starts = [0]
            pos = 0
            for text in texts:
                pos += len(text) + 2
                starts.append(pos)
            starts.pop()
            names = body.lower().replace(" ", "_").split(",_")
            if len(names) == len(texts):  # a guard: lowercasing never makes a comma or a space
                namespaces = split_namespaces(texts, names, known) if known and ":" in body else None
                return TagList(texts, texts, names, starts, None, None, namespaces)
    texts = []
    starts = []
    pos = 0
    for piece in (source.replace("\n", ",") if "\n" in source else source).split(","):
        text = piece.strip()
        if text:
            texts.append(text)
            starts.append(pos + len(piece) - len(piece.lstrip()))
        pos += len(piece) + 1
    return make_tag_list(texts, texts, starts, None, None, known)
