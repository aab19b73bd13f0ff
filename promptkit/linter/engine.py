"""Running rules over a prompt, and applying their fixes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..syntax import parse
from .diagnostics import Diagnostic, Edit, Severity, apply_edits
from .registry import select_rules
from .rule import LintContext, TagRule
from .tag_pass import tag_pass

DEFAULT_PROFILE = "sdxl-base"


@dataclass
class LintReport:
    """The findings for one prompt, in source order."""

    text: str
    profile: str
    dialect: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    negative: bool = False
    omitted: dict[tuple[str, str], int] = field(default_factory=dict)
    """(code, severity) -> findings left out above ``max_per_rule`` (a generated caption can hold 400,000)."""

    @property
    def total(self) -> int:
        """Every finding, the omitted ones included."""
        return len(self.diagnostics) + sum(self.omitted.values())

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)

    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def to_dict(self) -> dict:
        return {"text": self.text, "profile": self.profile, "dialect": self.dialect, "negative": self.negative,
                "diagnostics": [d.to_dict() for d in self.diagnostics], "omitted": omitted_rows(self.omitted)}


def omitted_rows(omitted: dict[tuple[str, str], int]) -> list[dict]:
    """The omitted findings as JSON rows: code, severity, count."""
    return [{"code": code, "severity": severity, "count": count} for (code, severity), count in sorted(omitted.items())]


def resolve_profile(profile):
    """A :class:`Profile` from an id, a profile file, None (the default profile) or a Profile."""
    if hasattr(profile, "architecture"):
        return profile
    from ..profiles import load_profile

    return load_profile(profile or DEFAULT_PROFILE)


def lint_prompt(text: str, profile=None, dialect: str | None = None, db=None,
                select: Sequence[str] | None = None, ignore: Sequence[str] | None = None,
                negative: bool = False, backtrack: int = 20, embeddings: Iterable[str] = (),
                extend_select: Sequence[str] | None = None, container: str | None = None,
                path: str | None = None, max_per_rule: int | None = None, wildcards=None) -> LintReport:
    """Lint a prompt, or every prompt of a container text.

    ``profile`` is an id, a path or a :class:`Profile`; ``db`` defaults to the profile's own tag sources
    (:meth:`TagDB.for_profile`). ``select``/``ignore`` take rule codes, prefixes or names (``ALL``);
    without ``select`` the default rule set runs. ``embeddings`` are extra textual-inversion names (the
    widely used ones are known already). ``container`` names what the text is (``prompt``, ``a1111-styles-csv``,
    ... see :mod:`promptkit.contain`); None detects it from ``path`` and markers that cannot mean anything else
    (``{prompt}``, ``{p}``, ``--n``, ``ADDCOMM``, ``__wildcard__``, ``{a|b}``). A container's prompts are linted one
    by one and their findings returned together, in positions of ``text``. Raises
    :class:`~promptkit.linter.registry.UnknownRuleError` for an unknown code and
    :class:`~promptkit.contain.ContainerError` for an unknown container. ``max_per_rule`` keeps the first findings
    of each rule and only counts the rest (``LintReport.omitted``), as linters do for generated files.
    A dynamic-prompts template or wildcard file also gets the template rules (PK4xx) against ``wildcards``
    (a folder, a mapping, a :class:`~promptkit.templates.Wildcards` or None: then no wildcard is judged
    missing or cyclic, as nobody knows the folder).
    """
    from ..contain import split_document

    doc = split_document(text, container=container, path=path, negative=negative)
    if doc.plain and not (container is None and _reads_as_template(text, profile, dialect)):
        return _lint_one(text, profile, dialect, db, select, ignore, doc.segments[0].negative, backtrack,
                         embeddings, extend_select, max_per_rule)
    from .containers import lint_document, merged_report

    reports = lint_document(doc, profile, dialect, db, select, ignore, backtrack, embeddings, extend_select,
                            wildcards=wildcards)
    return merged_report(doc, reports, profile, dialect, negative, max_per_rule)


def _reads_as_template(text: str, profile, dialect: str | None) -> bool:
    if "{" not in text and "__" not in text and "${" not in text:
        return False
    from ..syntax.dynamic import reads_as_template

    return reads_as_template(text, dialect or resolve_profile(profile).dialect)


def _lint_one(text: str, profile=None, dialect: str | None = None, db=None,
              select: Sequence[str] | None = None, ignore: Sequence[str] | None = None,
              negative: bool = False, backtrack: int = 20, embeddings: Iterable[str] = (),
              extend_select: Sequence[str] | None = None, max_per_rule: int | None = None) -> LintReport:
    """Lint one prompt (no container)."""
    rules = select_rules(select, ignore, extend_select)
    prof = resolve_profile(profile)
    dialect = dialect or prof.dialect
    if db is None and any(r.needs_db for r in rules):
        from ..tags import TagDB

        db = TagDB.for_profile(prof)
    prompt = parse(text, dialect, namespaces=_namespaces(prof))
    from .vocabulary import bundled_embeddings, embedding_key

    # without extra names, the bundled set itself: the run memo's key then hashes the same object every prompt
    names = bundled_embeddings() | frozenset(embedding_key(e) for e in embeddings) if embeddings else \
        bundled_embeddings()
    ctx = LintContext(prompt, prof, db, negative=negative, backtrack=backtrack, embeddings=names)
    found: list[Diagnostic] = []
    omitted: dict[tuple[str, str], int] = {}
    rules_run, prompt_rules, tag_rules, fact_rules = _instances(tuple(rules), db is not None)
    if max_per_rule is None:
        # first the tags, once per spelling for all the rules that judge them so, then the prompt rules (which
        # read their spelling facts from it); findings are sorted by place below, so the order does not show
        found.extend(tag_pass(ctx, tag_rules, fact_rules))
        for rule in prompt_rules:
            found.extend(rule.check(ctx))
    else:
        for rule in rules_run:
            findings = iter(rule.check(ctx))
            found.extend(itertools.islice(findings, max_per_rule))
            for d in findings:  # counted, not kept: memory stays small however many there are
                key = (d.code, d.severity.value)
                omitted[key] = omitted.get(key, 0) + 1
    found = _outside_pasted_infotext(found)
    found.sort(key=lambda d: (d.start, d.code))
    _locate(text, found)
    return LintReport(text, prof.id, dialect, found, negative, omitted)


def _outside_pasted_infotext(found: list[Diagnostic]) -> list[Diagnostic]:
    """Findings before a pasted infotext (PK110), and PK110 itself: what lies inside the settings line it
    reports (the ``++`` of ``DPM++ 2M``, a repeated ``Model hash``) goes with it, one deletion."""
    pasted = next((d.start for d in found if d.code == "PK110"), None)
    if pasted is None:
        return found
    return [d for d in found if d.code == "PK110" or d.start < pasted]


_INSTANCES: dict[tuple, tuple[list, list, list, list]] = {}


def _instances(rules: tuple, has_db: bool) -> tuple[list, list, list, list]:
    """One instance of each rule that runs (those that need a database only with one): rules keep no state,
    everything about a prompt is in its context. Kept per rule selection, not made again for every prompt.
    Returned all together, then split: the rules that look at the whole prompt, the :class:`TagRule` rules, which
    the shared tag pass runs, and the prompt rules whose spelling facts it works out."""
    key = (rules, has_db)
    found = _INSTANCES.get(key)
    if found is None:
        if len(_INSTANCES) >= 64:  # selections are few; a program that makes many does not grow this forever
            _INSTANCES.clear()
        every = [rule_cls() for rule_cls in rules if has_db or not rule_cls.needs_db]
        prompt_rules = [r for r in every if not isinstance(r, TagRule)]
        found = _INSTANCES[key] = (every, prompt_rules, [r for r in every if isinstance(r, TagRule)],
                                   [r for r in prompt_rules if r.spelling_facts])
    return found


def _locate(text: str, found: list[Diagnostic]) -> None:
    """Line and column of every finding in one pass over the text (findings are sorted by start)."""
    line, line_start, pos = 1, 0, 0
    for d in found:
        start = max(0, min(d.start, len(text)))
        if start < pos:  # pragma: no cover - findings are sorted
            line, line_start, pos = 1, 0, 0
        line += text.count("\n", pos, start)
        newline = text.rfind("\n", pos, start)
        if newline != -1:
            line_start = newline + 1
        pos = start
        d.line, d.column = line, start - line_start + 1


def _namespaces(profile) -> frozenset[str] | None:
    if not profile.namespaces:
        return None
    from .._resources import known_namespaces

    return known_namespaces() | frozenset(profile.namespaces)


def pick_edits(diagnostics: Iterable[Diagnostic], length: int, unsafe: bool, applied: list[Diagnostic]) -> list[Edit]:
    """The edits of one fix pass over a text of ``length``: each wanted fix whose spans no earlier fix of the pass
    claimed (the rest wait for the next pass, on the text this one makes); the fixes taken go into ``applied``."""
    edits: list[Edit] = []
    taken = _Taken(length)
    for diag in diagnostics:
        fix = diag.fix
        if fix is None or not (fix.safe or unsafe):
            continue
        spans = [(e.start, e.end) for e in fix.edits]
        if not all(taken.free(s, e) for s, e in spans) or _self_overlapping(spans):
            continue
        for s, e in spans:
            taken.take(s, e)
        edits.extend(fix.edits)
        applied.append(diag)
    return edits


class _Taken:
    """Source spans already claimed by a fix of this pass. Checks cost the length of the span (C speed),
    so a pass is linear in the text however many fixes it holds."""

    def __init__(self, length: int) -> None:
        self.covered = bytearray(length + 1)  # 1 where an edit replaces the character
        self.inserts = bytearray(length + 1)  # 1 where an edit inserts (or starts)

    def free(self, s: int, e: int) -> bool:
        if s == e:  # an insertion conflicts with an edit around or starting at the same point
            return not self.inserts[s] and not (self.covered[s] and s > 0 and self.covered[s - 1])
        return self.covered.find(1, s, e) == -1 and self.inserts.find(1, s, e) == -1

    def take(self, s: int, e: int) -> None:
        self.inserts[s] = 1
        if e > s:
            self.covered[s:e] = b"\x01" * (e - s)


def fix_text(text: str, profile=None, dialect: str | None = None, db=None, select: Sequence[str] | None = None,
             ignore: Sequence[str] | None = None, unsafe: bool = False, negative: bool = False,
             max_passes: int = 5, embeddings: Iterable[str] = (), container: str | None = None,
             path: str | None = None) -> tuple[str, list[Diagnostic]]:
    """Apply fixes (safe ones; unsafe too with ``unsafe=True``) until none applies; returns text and what was fixed.

    Overlapping fixes are applied one per pass, so each pass re-lints the text the previous one produced.
    A container text (``container``, ``path``: as :func:`lint_prompt`) is fixed prompt by prompt; placeholders
    and everything between the prompts stay byte for byte.
    """
    from ..contain import split_document

    doc = split_document(text, container=container, path=path, negative=negative)
    if not doc.plain:
        from .containers import fix_document

        return fix_document(doc, profile, dialect, db, select, ignore, unsafe, max_passes, embeddings)
    applied: list[Diagnostic] = []
    embeddings = tuple(embeddings)
    wanted = ("safe", "unsafe") if unsafe else ("safe",)
    fixing = [r.code for r in select_rules(select, ignore) if r.fix_safety in wanted]  # rules without fixes skip
    if not fixing:
        return text, applied
    for _ in range(max_passes):
        report = _lint_one(text, profile, dialect, db, fixing, None, negative, embeddings=embeddings)
        edits = pick_edits(report.diagnostics, len(text), unsafe, applied)
        if not edits:
            break
        text = apply_edits(text, edits)
    return text, applied


def _self_overlapping(spans: list[tuple[int, int]]) -> bool:
    ordered = sorted(spans)
    return any(_overlaps(a, b) for a, b in zip(ordered, ordered[1:]))


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a[0] == a[1] or b[0] == b[1]:  # insertions conflict only at the same point or inside
        return b[0] < a[0] < b[1] or a[0] < b[0] < a[1] or a[0] == b[0]
    return a[0] < b[1] and b[0] < a[1]
