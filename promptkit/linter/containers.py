"""Linting, fixing and formatting a text prompt by prompt, through its container (``promptkit.contain``).

Each prompt, region or option is linted on its own, so a duplicate is a duplicate within a region, tokens are
counted per prompt and a negative part is linted as a negative. Placeholders (``{prompt}``, ``{p}``,
``__wildcard__``, ``{a|b}`` ...) are masked with spaces (same length, so positions stay valid), and any finding
or fix that touches one is dropped: lint never reads template syntax as prompt text and a fix never rewrites it.
Positions are mapped back to the file (through CSV and JSON quoting) before anyone sees them.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import replace
from typing import Iterable, Sequence

from ..contain import Document, Segment, split_document
from ..contain.document import Placeholder
from .diagnostics import Diagnostic, Edit, Fix, apply_edits
from .engine import LintReport, _lint_one, _locate, pick_edits, resolve_profile
from .registry import RULES, select_rules

_SEPARATORS = " \t\r\n,"
_MOVES_TEXT = frozenset({"PK303"})
"""Rules whose finding is the move its fix makes (tag order): across a placeholder the finding is wrong too."""


def lint_segment(segment: Segment, profile=None, dialect: str | None = None, db=None,
                 select: Sequence[str] | None = None, ignore: Sequence[str] | None = None, backtrack: int = 20,
                 embeddings: Iterable[str] = (), extend_select: Sequence[str] | None = None) -> LintReport:
    """The findings on one segment, in positions of ``segment.text``; none touches a placeholder."""
    report = _lint_one(segment.masked(), profile, segment.dialect or dialect, db, select, ignore,
                       segment.negative, backtrack, embeddings, extend_select)
    kept = []
    for d in report.diagnostics:
        if segment.placeholders and segment.touches_placeholder(d.start, d.end):
            continue
        if d.fix is not None and segment.placeholders and _crosses(segment, d.fix.edits):
            if d.code in _MOVES_TEXT:
                continue
            d.fix = None
        kept.append(d)
    report.text = segment.text
    report.diagnostics = kept
    return report


def _crosses(segment: Segment, edits) -> bool:
    """Whether a fix touches a placeholder, or has edits on both sides of one (a reorder written as several
    replacements would move text across it)."""
    if any(segment.touches_placeholder(e.start, e.end) for e in edits):
        return True
    ends = [p.end for p in segment.placeholders]
    return len({bisect.bisect_right(ends, e.start) for e in edits}) > 1


def to_file(segment: Segment, d: Diagnostic) -> Diagnostic:
    """A copy of a segment's finding in file offsets; its fix is dropped when the file cannot hold it."""
    fix = d.fix
    if fix is not None:
        edits = []
        for e in fix.edits:
            replacement = segment.encode(e.replacement)
            if replacement is None:  # e.g. a comma into an unquoted CSV cell: no fix rather than a broken row
                edits = None
                break
            edits.append(Edit(segment.to_file(e.start), segment.to_file(e.end), replacement))
        fix = None if edits is None else Fix(fix.description, tuple(edits), fix.safe)
    return replace(d, start=segment.to_file(d.start), end=segment.to_file(d.end), fix=fix,
                   suggestions=list(d.suggestions))


def lint_document(doc: Document, profile=None, dialect: str | None = None, db=None,
                  select: Sequence[str] | None = None, ignore: Sequence[str] | None = None, backtrack: int = 20,
                  embeddings: Iterable[str] = (), extend_select: Sequence[str] | None = None, *,
                  wildcards=None) -> list[tuple[Segment, LintReport]]:
    """One report per prompt segment; each report's text is the whole file and its findings are in file
    offsets, with the line and column of the file. A template or wildcard file's top-level segments also get
    the template rules (PK4xx, :func:`~promptkit.linter.templates.lint_template`) against ``wildcards``."""
    prof = resolve_profile(profile)
    if db is None and any(r.needs_db for r in select_rules(select, ignore, extend_select)):
        from ..tags import TagDB

        db = TagDB.for_profile(prof)
    embeddings = tuple(embeddings)
    rules = {r.code for r in select_rules(select, ignore, extend_select)}
    common = [s for s in doc.prompts if s.role == "common"]
    if wildcards is not None and rules & TEMPLATE_CODES:
        from ..templates.wildcards import Wildcards

        wildcards = Wildcards.load(wildcards)  # read once for every segment
    repeats = _repeated_lines(doc) if doc.container == "wildcard-file" and "PK404" in rules else {}
    out = []
    for segment in doc.prompts:
        named = _profile_named_by(segment.label, prof) if segment.label else None
        local = lint_segment(segment, named or prof, dialect, db if named is None else None, select, ignore,
                             backtrack, embeddings, extend_select)
        if common and segment.role == "region" and "PK204" in rules:
            local.diagnostics.extend(_common_repeats(common[0], segment, prof, dialect, db, local.diagnostics))
        found = [to_file(segment, d) for d in local.diagnostics]
        if not segment.nested and template_level(doc.container, segment, prof, dialect):
            found.extend(to_file(segment, d) for d in template_findings(segment, prof, rules, wildcards))
        found.extend(repeats.get(id(segment), ()))
        found.sort(key=lambda d: (d.start, d.code))
        _locate(doc.text, found)
        out.append((segment, LintReport(doc.text, local.profile, local.dialect, found, segment.negative)))
    return out


#: words of a style's name that say which model family it was written for (a styles.csv row "PONY", an AI Horde
#: style "swam pony"), and the bundled profile of that family its prompts are linted with
_FAMILY_WORDS = {"pony": "pony-v6", "pdxl": "pony-v6", "noobai": "noobai-xl-eps", "noob": "noobai-xl-eps",
                 "illustrious": "illustrious-xl", "animagine": "animagine-xl-3.1"}


def _profile_named_by(label: str, profile):
    """The profile of the model family a style's name names, where it is another family than ``profile``'s:
    a file of styles holds styles for several models, and each is judged by its own model's ladders."""
    lowered = label.lower()
    for word in re.findall(r"[a-z]+", lowered):
        named = _FAMILY_WORDS.get(word)
        if named == "animagine-xl-3.1" and re.search(r"animagine\W*(xl\W*)?(v\W*)?4", lowered):
            named = "animagine-xl-4.0"  # its ladders differ from 3.1's
        if named is not None:
            other = resolve_profile(named)
            return other if other.family != profile.family else None
    return None


def _repeated_lines(doc: Document) -> dict[int, list[Diagnostic]]:
    """PK404 on a wildcard text file: a line written again (the same after stripping), at the repeat."""
    from .rules.templates import RepeatedOption

    rule, first, out = RepeatedOption(), {}, {}
    for segment in doc.prompts:
        if segment.nested or not segment.label.startswith("line "):
            continue
        key = segment.text.strip()
        if key in first:
            out.setdefault(id(segment), []).append(rule.diagnostic(
                f"{first[key]} says the same: sd-dynamic-prompts reads the line once, A1111's wildcards extension "
                "picks it twice as often", segment.start, segment.end))
        else:
            first[key] = segment.label
    return out


_TEMPLATE_KINDS = frozenset({"dynamic-template", "wildcard-file"})
TEMPLATE_CODES = frozenset(r.code for r in RULES if r.category == "template")
"""The template rules (PK4xx): checked on a whole template, not by the per-prompt engine."""


def template_level(kind: str, segment: Segment, profile, dialect: str | None) -> bool:
    """Whether a top-level segment of a ``kind`` container is a dynamic-prompts template: every prompt of a
    template or wildcard file (but NovelAI's ``{}`` is emphasis), and a lone prompt that reads as one."""
    from ..syntax.dynamic import reads_as_template

    dialect = segment.dialect or dialect or profile.dialect
    if kind in _TEMPLATE_KINDS:
        return dialect.lower() not in ("novelai", "nai")
    return kind == "prompt" and reads_as_template(segment.text, dialect)


def template_findings(segment: Segment, profile, rules: set[str], wildcards) -> list[Diagnostic]:
    """The selected template rules' findings on a segment, in its own positions (the options' tags are linted
    by their own segments, so nothing here repeats them)."""
    from .templates import lint_template

    if not rules & TEMPLATE_CODES:
        return []
    return [d for d in lint_template(segment.text, wildcards=wildcards, profile=profile) if d.code in rules]


def _common_repeats(common: Segment, region: Segment, profile, dialect, db, known: list[Diagnostic]
                    ) -> list[Diagnostic]:
    """Regional Prompter adds the common prompt (before ``ADDCOMM``) to every region: a region's tag that the
    common prompt already has is a duplicate in that region's prompt. Found on the region's own text."""
    sep = ", "
    joined = Segment(0, common.text + sep + region.text, region.role, region.container, dialect=region.dialect,
                     placeholders=list(common.placeholders) + [
                         Placeholder(p.start + len(common.text) + len(sep), p.end + len(common.text) + len(sep),
                                     p.kind, p.name) for p in region.placeholders])
    shift = len(common.text) + len(sep)
    seen = {(d.code, d.start, d.end) for d in known}
    out = []
    for d in lint_segment(joined, profile, dialect, db, ["PK204"]).diagnostics:
        if d.start < shift or (d.code, d.start - shift, d.end - shift) in seen:
            continue
        # no fix: which of the two to drop (the common tag or the region's) is the writer's choice
        out.append(replace(d, start=d.start - shift, end=d.end - shift, fix=None,
                           message=d.message + " (the common prompt before ADDCOMM is part of every region)"))
    return out


def merged_report(doc: Document, reports: list[tuple[Segment, LintReport]], profile, dialect: str | None,
                  negative: bool, max_per_rule: int | None = None) -> LintReport:
    """All segments' findings as one report on the whole text (what :func:`lint_prompt` returns); with
    ``max_per_rule``, the first findings of each rule in the text and a count of the rest."""
    found = [d for _, r in reports for d in r.diagnostics]
    found.sort(key=lambda d: (d.start, d.code))
    omitted: dict[tuple[str, str], int] = {}
    if max_per_rule is not None:
        kept, shown = [], {}
        for d in found:
            shown[d.code] = shown.get(d.code, 0) + 1
            if shown[d.code] <= max_per_rule:
                kept.append(d)
            else:
                omitted[(d.code, d.severity.value)] = omitted.get((d.code, d.severity.value), 0) + 1
        found = kept
    prof = resolve_profile(profile)
    return LintReport(doc.text, prof.id, dialect or prof.dialect, found, negative, omitted)


# -- fixes --------------------------------------------------------------------------------------------------------

def _shifted(placeholders: list[Placeholder], edits: list[Edit]) -> list[Placeholder]:
    """Placeholders moved by edits that never touch them."""
    out = []
    for p in placeholders:
        delta = sum(len(e.replacement) - (e.end - e.start) for e in edits if e.end <= p.start)
        out.append(Placeholder(p.start + delta, p.end + delta, p.kind, p.name))
    return out


def fix_segment(segment: Segment, profile=None, dialect: str | None = None, db=None,
                select: Sequence[str] | None = None, ignore: Sequence[str] | None = None, unsafe: bool = False,
                max_passes: int = 5, embeddings: Iterable[str] = ()) -> tuple[str, list[Diagnostic]]:
    """The segment's text with its fixes applied (as :func:`fix_text`), placeholders untouched."""
    applied: list[Diagnostic] = []
    embeddings = tuple(embeddings)
    wanted = ("safe", "unsafe") if unsafe else ("safe",)
    fixing = [r.code for r in select_rules(select, ignore) if r.fix_safety in wanted]
    if not fixing:
        return segment.text, applied
    current = Segment(0, segment.text, segment.role, segment.container, placeholders=list(segment.placeholders),
                      dialect=segment.dialect)
    for _ in range(max_passes):
        report = lint_segment(current, profile, dialect, db, fixing, None, embeddings=embeddings)
        edits = pick_edits(report.diagnostics, len(current.text), unsafe, applied)
        if not edits:
            break
        current = Segment(0, apply_edits(current.text, edits), current.role, current.container,
                          placeholders=_shifted(current.placeholders, edits), dialect=current.dialect)
    return current.text, applied


def _rewrite(doc: Document, segments: list[Segment], rewrite) -> tuple[str, int]:
    """The file with each segment's text replaced by ``rewrite(segment)`` (None: leave it); and how many changed."""
    edits = []
    for segment in segments:
        new = rewrite(segment)
        if new is None or new == segment.text:
            continue
        encoded = segment.encode(new)
        if encoded is not None:
            edits.append(Edit(segment.start, segment.end, encoded))
    return (apply_edits(doc.text, edits), len(edits)) if edits else (doc.text, 0)


def _leaves(doc: Document) -> list[Segment]:
    """Nested option segments that hold no other segment (their edits cannot overlap)."""
    nested = [s for s in doc.prompts if s.nested]
    return [s for s in nested if not any(o is not s and s.start <= o.start and o.end <= s.end for o in nested)]


def fix_document(doc: Document, profile=None, dialect: str | None = None, db=None,
                 select: Sequence[str] | None = None, ignore: Sequence[str] | None = None, unsafe: bool = False,
                 max_passes: int = 5, embeddings: Iterable[str] = ()) -> tuple[str, list[Diagnostic]]:
    """The file with every prompt segment fixed; top-level segments first, then the innermost variant options."""
    applied: list[Diagnostic] = []

    def rewrite(segment: Segment) -> str:
        new, done = fix_segment(segment, profile, dialect, db, select, ignore, unsafe, max_passes, embeddings)
        if new != segment.text and segment.encode(new) is not None:
            applied.extend(done)
        return new

    text, _ = _rewrite(doc, [s for s in doc.prompts if not s.nested], rewrite)
    if any(s.nested for s in doc.prompts):
        again = split_document(text, container=doc.container, path=doc.path,
                               negative=all(s.negative for s in doc.prompts))
        text, _ = _rewrite(again, _leaves(again), rewrite)
    return text, applied


# -- formatting ------------------------------------------------------------------------------------------------------

def _balanced(text: str) -> bool:
    depth = {"(": 0, "[": 0, "{": 0, "<": 0}
    close = {")": "(", "]": "[", "}": "{", ">": "<"}
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in depth:
            depth[c] += 1
        elif c in close:
            depth[close[c]] -= 1
            if depth[close[c]] < 0:
                return False
        i += 1
    return not any(depth.values())


def _top_commas(text: str) -> list[int]:
    """Positions of the commas and newlines of ``text`` outside brackets."""
    out, depth, i = [], 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth = max(0, depth - 1)
        elif c in ",\n" and depth == 0:
            out.append(i)
        i += 1
    return out


def _format_piece(piece: str, glued_left: bool, glued_right: bool, fmt) -> str | None:
    """A piece between placeholders, formatted; the spaces and commas at its ends stay, and so does a tag glued
    to a placeholder (``a photo of [name]``: the placeholder is part of that tag). None: leave the segment."""
    cs, ce = 0, len(piece)
    while cs < ce and piece[cs] in _SEPARATORS:
        cs += 1
    while ce > cs and piece[ce - 1] in _SEPARATORS:
        ce -= 1
    if cs == ce:
        return piece
    glued_left = glued_left and cs == 0 or glued_left and not any(c in ",\n" for c in piece[:cs])
    glued_right = glued_right and not any(c in ",\n" for c in piece[ce:])
    if glued_left or glued_right:
        commas = _top_commas(piece[cs:ce])
        if not commas:
            return piece  # the whole piece is one tag with the placeholder in it
        left = cs + commas[0] if glued_left else cs
        right = cs + commas[-1] + 1 if glued_right else ce
        if right <= left:
            return piece
        middle = _format_piece(piece[left:right], False, False, fmt)
        return None if middle is None else piece[:left] + middle + piece[right:]
    core = piece[cs:ce]
    if not _balanced(core):
        return None
    return piece[:cs] + fmt(core) + piece[ce:]


def format_segment(segment: Segment, profile=None, dialect: str | None = None, db=None) -> str:
    """The segment formatted as ``fmt`` does, piece by piece between placeholders: a placeholder, the spaces and
    commas around it and a tag it is part of stay byte for byte, and nothing moves across it. A segment whose
    placeholder sits inside brackets (a piece that does not balance on its own) is left as it is."""
    from .formatter import format_prompt

    dialect = segment.dialect or dialect

    def fmt(core: str) -> str:
        return format_prompt(core, profile, dialect, db, negative=segment.negative, container="prompt")

    if not segment.placeholders:
        return fmt(segment.text)
    text = segment.text
    bounds = [0]
    for p in segment.placeholders:
        bounds += [p.start, p.end]
    bounds.append(len(text))
    out = []
    for k in range(0, len(bounds), 2):
        s, e = bounds[k], bounds[k + 1]
        piece = _format_piece(text[s:e], k > 0, k + 2 < len(bounds), fmt)
        if piece is None:
            return text
        out.append(piece)
        if k + 2 < len(bounds):
            out.append(text[e:bounds[k + 2]])
    return "".join(out)


def format_document(doc: Document, profile=None, dialect: str | None = None, db=None) -> str:
    """The file with every top-level prompt segment formatted; everything between segments (CSV cells, ``###``,
    ``BREAK``, ``--n``, comments) and every variant (its options included) byte for byte."""
    text, _ = _rewrite(doc, [s for s in doc.prompts if not s.nested],
                       lambda s: format_segment(s, profile, dialect, db))
    return text
