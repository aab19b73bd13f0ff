"""Running rules over a prompt, and applying their fixes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..syntax import parse
from .diagnostics import Diagnostic, Edit, Severity, apply_edits
from .rule import LintContext, all_rules

DEFAULT_PROFILE = "sdxl-base"


@dataclass
class LintReport:
    """The findings for one prompt, in source order."""

    text: str
    profile: str
    dialect: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    negative: bool = False

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)

    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def to_dict(self) -> dict:
        return {"text": self.text, "profile": self.profile, "dialect": self.dialect, "negative": self.negative,
                "diagnostics": [d.to_dict() for d in self.diagnostics]}


def select_rules(select: Iterable[str] | None = None, ignore: Iterable[str] | None = None) -> list:
    """Rules whose code or name starts with an entry of ``select`` (all when None) and of no ``ignore`` entry."""
    rules = all_rules()

    def matches(rule, patterns) -> bool:
        return any(rule.code.startswith(p.upper()) or rule.name == p for p in patterns)

    if select:
        rules = [r for r in rules if matches(r, list(select))]
    if ignore:
        rules = [r for r in rules if not matches(r, list(ignore))]
    return rules


def _resolve(profile, dialect, db, rules):
    from ..profiles import load_profile

    prof = load_profile(profile or DEFAULT_PROFILE) if not hasattr(profile, "architecture") else profile
    if db is None and any(r.needs_db for r in rules):
        from ..tags import default_db

        db = default_db()
    return prof, dialect or prof.dialect, db


def lint_prompt(text: str, profile=None, dialect: str | None = None, db=None,
                select: Sequence[str] | None = None, ignore: Sequence[str] | None = None,
                negative: bool = False, backtrack: int = 20) -> LintReport:
    """Lint one prompt. ``profile`` is an id, a path or a :class:`Profile`; ``db`` defaults to Danbooru + e621."""
    rules = select_rules(select, ignore)
    prof, dialect, db = _resolve(profile, dialect, db, rules)
    prompt = parse(text, dialect, namespaces=_namespaces(prof))
    ctx = LintContext(prompt, prof, db, negative=negative, backtrack=backtrack)
    found: list[Diagnostic] = []
    for rule_cls in rules:
        if rule_cls.needs_db and db is None:
            continue
        for diag in rule_cls().check(ctx):
            found.append(diag.locate(text))
    found.sort(key=lambda d: (d.start, d.code))
    return LintReport(text, prof.id, dialect, found, negative)


def _namespaces(profile) -> frozenset[str] | None:
    if not profile.namespaces:
        return None
    from .._resources import known_namespaces

    return known_namespaces() | frozenset(profile.namespaces)


def fix_text(text: str, profile=None, dialect: str | None = None, db=None, select: Sequence[str] | None = None,
             ignore: Sequence[str] | None = None, unsafe: bool = False, negative: bool = False,
             max_passes: int = 5) -> tuple[str, list[Diagnostic]]:
    """Apply fixes (safe ones; unsafe too with ``unsafe=True``) until none applies; returns text and what was fixed.

    Overlapping fixes are applied one per pass, so each pass re-lints the text the previous one produced.
    """
    applied: list[Diagnostic] = []
    for _ in range(max_passes):
        report = lint_prompt(text, profile, dialect, db, select, ignore, negative)
        edits: list[Edit] = []
        taken: list[tuple[int, int]] = []
        for diag in report.diagnostics:
            fix = diag.fix
            if fix is None or not (fix.safe or unsafe):
                continue
            spans = [(e.start, e.end) for e in fix.edits]
            if any(_overlaps(s, t) for s in spans for t in taken):
                continue
            taken.extend(spans)
            edits.extend(fix.edits)
            applied.append(diag)
        if not edits:
            break
        text = apply_edits(text, edits)
    return text, applied


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a[0] == a[1] or b[0] == b[1]:  # insertions conflict only at the same point or inside
        return b[0] < a[0] < b[1] or a[0] < b[0] < a[1] or a[0] == b[0]
    return a[0] < b[1] and b[0] < a[1]
