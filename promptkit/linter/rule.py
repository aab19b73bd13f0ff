"""Lint rules as documented objects (the ruff/sqlfluff model) and the context every rule sees."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Iterable, Iterator

from ..syntax.prompt import Prompt, Tag
from .diagnostics import Diagnostic, Edit, Fix, Severity

if TYPE_CHECKING:
    from ..profiles import Profile
    from ..tags import TagDB, TagInfo
    from ..tokens.chunks import ChunkPlan


class LintContext:
    """Everything a rule may look at: the parsed prompt, the profile, the tag database (may be None)."""

    def __init__(self, prompt: Prompt, profile: "Profile", db: "TagDB | None", negative: bool = False,
                 backtrack: int = 20) -> None:
        self.prompt = prompt
        self.text = prompt.source
        self.profile = profile
        self.db = db
        self.negative = negative
        self.backtrack = backtrack
        self._infos: dict[int, TagInfo | None] = {}
        self._plan: ChunkPlan | None = None

    @property
    def tags(self) -> list[Tag]:
        return self.prompt.tags

    def info(self, tag: Tag) -> "TagInfo | None":
        """The database entry of a tag (namespaced booru prefixes are looked up without the prefix)."""
        if self.db is None:
            return None
        if tag.index not in self._infos:
            if tag.namespace and tag.namespace not in ("artist", "copyright", "character", "general", "meta"):
                self._infos[tag.index] = None
            else:
                self._infos[tag.index] = self.db.lookup(tag.name)
        return self._infos[tag.index]

    def kind(self, tag: Tag) -> str:
        """What a tag is for ordering: a ladder (quality, rating...), ``count``, a DB category, or ``rest``."""
        profile = self.profile
        ladder = profile.ladder_of(tag.name)
        if ladder is not None:
            return ladder
        if tag.name in profile.count_names:
            return "count"
        if tag.namespace in ("artist", "creator"):
            return "artist"
        if tag.namespace in ("character",):
            return "character"
        if tag.namespace in ("copyright", "series"):
            return "copyright"
        info = self.info(tag)
        if info is not None:
            return info.category.value
        return "rest"

    @property
    def chunk_plan(self) -> "ChunkPlan":
        if self._plan is None:
            from ..tokens.chunks import plan_chunks

            self._plan = plan_chunks(self.prompt, self.backtrack)
        return self._plan


class Rule:
    """A lint rule. Subclasses set the class attributes and implement :meth:`check`.

    The class docstring is the rule's documentation (``promptkit rules CODE`` shows it): what it finds,
    why it matters, and an example.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]  # syntax | tags | model
    severity: ClassVar[Severity] = Severity.WARNING
    fix_safety: ClassVar[str | None] = None  # "safe", "unsafe" or None when the rule offers no fix
    needs_db: ClassVar[bool] = False

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]

    @classmethod
    def docs(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    def diagnostic(self, message: str, start: int, end: int, severity: Severity | None = None,
                   suggestions: Iterable[str] = (), fix: Fix | None = None) -> Diagnostic:
        return Diagnostic(self.code, self.name, severity or self.severity, message, start, end,
                          list(suggestions), fix)

    def fix(self, description: str, *edits: Edit) -> Fix:
        return Fix(description, tuple(edits), self.fix_safety == "safe")


RULES: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    if cls.code in RULES:
        raise ValueError(f"duplicate rule code {cls.code}")
    RULES[cls.code] = cls
    return cls


def all_rules() -> list[type[Rule]]:
    from . import rules  # noqa: F401 - importing registers them

    return [RULES[c] for c in sorted(RULES)]


def iter_item_spans(text: str, prompt: Prompt) -> Iterator[tuple[int, int]]:
    """Top-level comma-separated items as (start, end) spans, whitespace trimmed."""
    from ..syntax.ast import Separator

    start = 0
    for node in prompt.children:
        if type(node) is Separator and node.raw == ",":
            yield _trim(text, start, node.start)
            start = node.end
    yield _trim(text, start, len(text))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
