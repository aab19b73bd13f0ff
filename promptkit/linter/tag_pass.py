"""The shared tag pass: every :class:`~promptkit.linter.rule.TagRule` of a run, judged once per spelling.

A dataset repeats the same few thousand tags millions of times; rules that judge a tag by its spelling alone would
each loop over every tag of every caption to say, nearly always, nothing. Here each distinct spelling (with the
prompt's dialect and negative flag) is judged by all those rules at once, the first time the run meets it, and the
record (their findings, spans relative to the tag's start, or nothing) is kept in the run memo. A prompt then
costs one look-up per tag for all of them; only the findings found are copied to the tag's place and asked
whether they stand there (:meth:`TagRule.keep`).

The findings are the ones each rule's own :meth:`TagRule.check` gives, in the same order per rule; the engine sorts
all findings by place and code, so the interleaving of rules does not show.
"""

from __future__ import annotations

from typing import Sequence

from .diagnostics import Diagnostic, Edit, Fix
from .rule import LintContext, TagRule

_NOTHING: tuple = ()


def tag_pass(ctx: LintContext, rules: Sequence[TagRule]) -> list[Diagnostic]:
    """The findings of ``rules`` on every tag of ``ctx``'s prompt, as their own ``check`` would give them."""
    active = tuple(rule for rule in rules if rule.applies(ctx))
    if not active:
        return []
    # one table per set of rules (a selection), dialect and negative flag; entries keyed by the spelling
    name = f"tag_pass:{ctx.prompt.dialect}:{ctx.negative}:{','.join(rule.code for rule in active)}"
    records = ctx.table(name)
    found: list[Diagnostic] = []
    for tag in ctx.tags:
        key = (tag.raw, tag.text, tag.name, tag.namespace)
        record = records.get(key)
        if record is None:
            record = records[key] = _record(ctx, active, tag)
        if record is _NOTHING:
            continue
        for rule, relative in record:
            if rule.keep(ctx, tag):
                found.extend(_moved(d, tag.start) for d in relative)
    return found


def _record(ctx: LintContext, rules: tuple[TagRule, ...], tag) -> tuple:
    """What ``rules`` find on ``tag``'s spelling: (rule, findings relative to the tag's start) for each rule that
    finds something, or :data:`_NOTHING`."""
    out = []
    for rule in rules:
        findings = [_moved(d, -tag.start) for d in rule.check_tag(ctx, tag)]
        if findings:
            out.append((rule, findings))
    return tuple(out) if out else _NOTHING


def _moved(d: Diagnostic, by: int) -> Diagnostic:
    """A new finding ``by`` characters further (each prompt gets its own objects: the engine sets line and
    column on them)."""
    fix = d.fix
    if fix is not None:
        fix = Fix(fix.description, tuple(Edit(e.start + by, e.end + by, e.replacement) for e in fix.edits), fix.safe)
    return Diagnostic(d.code, d.name, d.severity, d.message, d.start + by, d.end + by, list(d.suggestions), fix)
