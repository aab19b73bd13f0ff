"""Lint rules as documented objects (the ruff/sqlfluff model) and the context every rule sees.

This module knows nothing of the rules themselves: they subclass :class:`Rule` in ``rules/`` and are listed
in one place, ``registry.py`` (as ruff lists its rules in one table), so nothing imports in a circle.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Iterable, Iterator

from ..syntax.prompt import Prompt, Tag
from .diagnostics import Diagnostic, Edit, Fix, Severity
from .edits import Parents, removal_edit
from .memo import RunMemo, run_memo
from .vocabulary import is_not_a_tag

if TYPE_CHECKING:
    from ..profiles import Profile
    from ..tags import TagDB, TagInfo
    from ..tokens.chunks import ChunkPlan

_WORDS = re.compile(r"[^\s_]+")
_UNSEEN = object()  # a tag whose database entry was not looked up yet
_SENTENCE = re.compile(r"[.!?;:]\s|[.!?]$|\"")


class _Tables(dict):
    """The run memo's tables one prompt has asked for, by name; a name asked for the first time is fetched from
    the memo (which empties a table grown too big: so at most once per prompt)."""

    __slots__ = ("memo",)

    def __init__(self, memo: RunMemo) -> None:
        super().__init__()
        self.memo = memo

    def __missing__(self, name: str) -> dict:
        table = self[name] = self.memo.table(name)
        return table


class LintContext:
    """Everything a rule may look at: the parsed prompt, the profile, the tag database (may be None).

    ``memo`` keeps per-tag answers across prompts (:mod:`promptkit.linter.memo`); by default the one shared by
    every prompt linted with the same profile, database and embeddings."""

    def __init__(self, prompt: Prompt, profile: "Profile", db: "TagDB | None", negative: bool = False,
                 backtrack: int = 20, embeddings: frozenset[str] = frozenset(), memo: RunMemo | None = None) -> None:
        self.prompt = prompt
        self.text = prompt.source
        self.profile = profile
        self.db = db
        self.negative = negative
        self.backtrack = backtrack
        self.embeddings = embeddings  # textual-inversion names, lower case
        self._infos: list | None = None  # per tag index: its TagInfo, None, or _UNSEEN before the lookup
        self._plan: ChunkPlan | None = None
        self._tags: list[Tag] | None = None
        self._parents: Parents | None = None
        self._nodes: list | None = None
        # names the profile knows without the database (ladders, presets, count and special tags); read per tag
        # by most rules, so an attribute rather than a property
        self.vocabulary: frozenset[str] = profile.vocabulary
        self.memo = memo if memo is not None else run_memo(profile, db, embeddings)
        self._tables = _Tables(self.memo)
        # the rules ask for a table per tag (35 times a prompt): a dict look-up at C speed, no Python call
        self.table = self._tables.__getitem__  # type: ignore[method-assign]
        self._known: list[bool] | None = None  # per tag index: known(), worked out for all tags once asked
        self._unresolved: list[Tag] | None = None
        self._not_tags: dict[str, bool] = self.table("not_a_tag")  # depends on the text and the embeddings
        self._prose: dict[str, bool] | None = None
        self._facts: dict[str, list] = {}  # rule code -> (tag, spelling fact) of the tags that have one

    @property
    def tags(self) -> list[Tag]:
        """The prompt's tags as the model reads them: a stray ``:`` that ends a tag (``(bad anatomy::1.2)``,
        where A1111 reads only the second colon as the weight) is not part of its name."""
        if self._tags is None:
            tags = list(self.prompt.tags)
            # (a tag's raw text is a piece of the text: without a ':' in it, no tag ends in a stray one)
            for i, tag in enumerate(tags) if ":" in self.text else ():
                name = tag.name
                if name.endswith(":") and len(name) > 1 and name[-2] not in ":_" and not tag.namespace and \
                        tag.raw.endswith(":"):  # the span keeps the colon: removing the tag removes it too
                    tags[i] = Tag(tag.raw, tag.text, name.rstrip(":").rstrip("_"), tag.namespace, tag.weight,
                                  tag.branch, tag.start, tag.end, tag.index)
            self._tags = tags
        return self._tags

    def table(self, name: str) -> dict:  # (replaced per instance by its _Tables' look-up: see __init__)
        """The run memo's table ``name``, fetched once per prompt (see :mod:`promptkit.linter.memo`)."""
        return self._tables[name]

    @property
    def nodes(self) -> list:
        """Every node of the prompt's tree in source order (``prompt.walk()``), walked once for all the rules."""
        if self._nodes is None:
            self._nodes = list(self.prompt.walk())
        return self._nodes

    @property
    def parents(self) -> Parents:
        """Which group encloses each tag (for removals that keep the syntax valid, one finding per group)."""
        if self._parents is None:
            self._parents = Parents(self.prompt)
        return self._parents

    def removal(self, tag: Tag) -> Edit | None:
        """An edit that removes ``tag`` and any group it alone fills; None inside prompt editing."""
        return removal_edit(self.text, self.parents, tag)

    @property
    def tag_profile(self) -> bool:
        """True for models prompted with tag lists; False where natural language comes first (SD 1.5, SDXL)."""
        return not self.profile.natural_language

    def info(self, tag: Tag) -> "TagInfo | None":
        """The database entry of a tag (namespaced booru prefixes are looked up without the prefix)."""
        if self.db is None:
            return None
        infos = self._infos
        if infos is None:
            infos = self._infos = [_UNSEEN] * len(self.prompt.tags)
        info = infos[tag.index]
        if info is _UNSEEN:
            if tag.namespace and tag.namespace not in ("artist", "copyright", "character", "general", "meta"):
                info = None
            else:
                info = self.db.lookup(tag.name)
            infos[tag.index] = info
        return info

    def known(self, tag: Tag) -> bool:
        """The tag is in the profile's vocabulary or its tag sources, or is not a tag at all (an embedding,
        a wildcard, a placeholder, a kaomoji...)."""
        known = self._known
        if known is None:
            known = self._spelling_flags()[0]
        return known[tag.index]

    @property
    def unresolved(self) -> list[Tag]:
        """The tags neither the profile's vocabulary nor the database knows (in order): where the ladder rules
        look, found once per prompt instead of by each rule's own loop over every tag."""
        if self._unresolved is None:
            self._spelling_flags()
        return self._unresolved  # type: ignore[return-value]

    def _spelling_flags(self) -> tuple[list[bool], list[Tag]]:
        """:meth:`known` of every tag and the :attr:`unresolved` tags, in one pass: the rules ask them of nearly
        every tag, and nearly every spelling's answers are in the run memo already."""
        flags = self.table("known")  # (name, text, namespace) -> (known, unresolved): they read the spelling only
        vocabulary = self.vocabulary
        known = [False] * len(self.prompt.tags)
        unresolved = []
        for tag in self.tags:
            key = (tag.name, tag.text, tag.namespace)
            found = flags.get(key)
            if found is None:
                info = self.info(tag)
                found = flags[key] = (tag.name in vocabulary or self.not_a_tag(tag) or info is not None,
                                      tag.name not in vocabulary and info is None)
            known[tag.index] = found[0]
            if found[1]:
                unresolved.append(tag)
        self._known, self._unresolved = known, unresolved
        return known, unresolved

    def facts(self, rule: "Rule") -> list[tuple[Tag, object]]:
        """(tag, fact) for each tag whose spelling has one of ``rule``'s facts (:meth:`Rule.spelling_fact`), in
        order: from the engine's tag pass, or worked out here for a rule run on its own."""
        found = self._facts.get(rule.code)
        if found is None:
            from .tag_pass import tag_pass

            tag_pass(self, (), (rule,))
            found = self._facts[rule.code]
        return found

    def keep_facts(self, facts: dict[str, list]) -> None:
        """Keep the tag pass's facts, by rule code (see :meth:`facts`)."""
        self._facts.update(facts)

    def not_a_tag(self, tag: Tag) -> bool:
        """Embedding names, wildcards, placeholders, numbers: words that are not meant as tags."""
        cache = self._not_tags
        found = cache.get(tag.text)
        if found is None:
            found = cache[tag.text] = is_not_a_tag(tag.text, self.embeddings)
        return found

    def not_a_tag_text(self, text: str) -> bool:
        """:meth:`not_a_tag` for any piece of text (an embedding name, a wildcard...)."""
        cache = self._not_tags
        found = cache.get(text)
        if found is None:
            found = cache[text] = is_not_a_tag(text, self.embeddings)
        return found

    def is_prose(self, tag: Tag) -> bool:
        """A sentence or a long phrase, not a tag: natural language, which the tag database cannot judge."""
        prose = self._prose
        if prose is None:
            prose = self._prose = self.table("prose")  # depends on the text and the profile
        found = prose.get(tag.text)
        if found is None:
            words = len(_WORDS.findall(tag.text))
            if words > (3 if self.profile.natural_language else 6):
                found = True
            else:
                found = words > 1 and _SENTENCE.search(tag.text) is not None
            prose[tag.text] = found
        return found

    def kind(self, tag: Tag) -> str:
        """What a tag is for ordering: a ladder (quality, rating...), ``count``, a DB category, or ``rest``."""
        profile = self.profile
        ladder = profile.ladder_of(tag.name)
        if ladder is not None:
            return ladder
        if tag.name in profile.count_names:
            return "count"
        if tag.name in profile.preset_names:
            return "preset"
        if tag.namespace in ("artist", "creator"):
            return "artist"
        if tag.namespace in ("character",):
            return "character"
        if tag.namespace in ("copyright", "series"):
            return "copyright"
        info = self.info(tag)
        if (info is None or info.category.value == "general") and self.bare_character(tag) is not None:
            return "character"
        if info is not None:
            return info.category.value
        return "rest"

    def bare_character(self, tag: Tag) -> "TagInfo | None":
        """The character a bare name stands for when its series is written beside it (Animagine's
        ``1girl, cagliostro, granblue fantasy``): the database's ``name_(series)`` character tag."""
        if self.db is None or tag.namespace:
            return None
        tags = self.tags
        for j in (tag.index + 1, tag.index - 1):
            if not 0 <= j < len(tags) or tags[j].index != j:
                continue
            series = tags[j]
            info = self.info(series)
            if info is None or info.category.value != "copyright":
                continue
            for qualifier in {series.name, info.name}:
                found = self.db.lookup(f"{tag.name}_({qualifier})")
                if found is not None and found.category.value == "character":
                    return found
        return None

    @property
    def chunk_plan(self) -> "ChunkPlan":
        if self._plan is None:
            from ..tokens.chunks import plan_chunks

            self._plan = plan_chunks(self.prompt, self.backtrack)
        return self._plan


class Rule:
    """A lint rule. Subclasses set the class attributes and implement :meth:`check`.

    The class docstring is the rule's documentation (``promptkit rules CODE`` shows it): what it finds,
    why it matters, and an example. ``default`` says whether the rule runs without ``--select``: as in ruff,
    only rules that are right on real prompts nearly always are on by default.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]  # syntax | tags | model
    severity: ClassVar[Severity] = Severity.WARNING
    fix_safety: ClassVar[str | None] = None  # "safe", "unsafe" or None when the rule offers no fix
    needs_db: ClassVar[bool] = False
    default: ClassVar[bool] = True
    spelling_facts: ClassVar[bool] = False
    """The rule reads :meth:`LintContext.facts`: the engine's tag pass works out :meth:`spelling_fact` once per
    spelling for it."""

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:  # pragma: no cover - abstract
        raise NotImplementedError

    def spelling_fact(self, ctx: LintContext, tag: Tag) -> object:  # pragma: no cover - abstract
        """What the rule needs to know of a tag that its spelling alone decides (as :class:`TagRule`'s
        ``check_tag`` may read), or None for nothing (most tags). Asked once per spelling, with
        :attr:`spelling_facts` set."""
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

    def fix(self, description: str, *edits: Edit, safe: bool | None = None) -> Fix:
        """A fix with this rule's safety (``safe=False`` marks one fix of a safe rule unsafe)."""
        is_safe = self.fix_safety == "safe" if safe is None else (safe and self.fix_safety == "safe")
        return Fix(description, tuple(edits), is_safe)


class TagRule(Rule):
    """A rule that judges each tag by its spelling alone: what it finds on a tag depends only on the tag's
    ``raw``, ``text``, ``name`` and ``namespace``, on the run memo's key (profile, database, embeddings) and on the
    prompt's dialect and negative flag, never on the tag's place, weight or neighbours.

    Captions repeat the same few thousand spellings, so the engine asks :meth:`check_tag` once per spelling and
    keeps the findings, relative to the tag's start, for every later prompt (:mod:`promptkit.linter.tag_pass`):
    a tag nothing is wrong with then costs one look-up for all such rules together. What does depend on the
    prompt goes into :meth:`applies` (the prompt as a whole) and :meth:`keep` (the tag in its prompt), which are
    asked per prompt.
    """

    def applies(self, ctx: LintContext) -> bool:
        """The rule runs on this prompt; it may read the profile, the dialect and the negative flag only."""
        return True

    def check_tag(self, ctx: LintContext, tag: Tag) -> Iterable[Diagnostic]:  # pragma: no cover - abstract
        """The findings on one tag, spans from ``tag.start``: they may read the tag's spelling only."""
        raise NotImplementedError

    def keep(self, ctx: LintContext, tag: Tag) -> bool:
        """The findings of :meth:`check_tag` stand for this tag in its prompt (asked only when there are some)."""
        return True

    def placed(self, ctx: LintContext, tag: Tag, found: list[Diagnostic]) -> list[Diagnostic]:
        """The findings of :meth:`check_tag`, moved to ``tag``'s place, as they stand in its prompt (asked only
        when there are some): all of them where :meth:`keep` says so. A rule whose advice depends on the rest of
        the prompt rewrites them here."""
        return found if self.keep(ctx, tag) else []

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        """The rule on its own (``fix``, ``max_per_rule``): the same findings as the engine's shared tag pass."""
        if not self.applies(ctx):
            return
        for tag in ctx.tags:
            found = list(self.check_tag(ctx, tag))
            if found:
                yield from self.placed(ctx, tag, found)


def quote(text: str, limit: int = 60) -> str:
    """``repr`` of a piece of the prompt for a message, shortened: findings on huge prompts stay short."""
    if len(text) > limit:
        text = text[: limit - 20] + "..." + text[-15:]
    return repr(text)


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
