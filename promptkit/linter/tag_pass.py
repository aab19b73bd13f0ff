"""The shared tag pass: every :class:`~promptkit.linter.rule.TagRule` of a run, judged once per spelling.

A dataset repeats the same few thousand tags millions of times; rules that judge a tag by its spelling alone would
each loop over every tag of every caption to say, nearly always, nothing. Here each distinct spelling (with the
prompt's dialect and negative flag) is judged by all those rules at once, the first time the run meets it, and the
record (their findings, spans relative to the tag's start, or nothing) is kept in the run memo. A prompt then
costs one look-up per tag for all of them; only the findings found are copied to the tag's place and asked
how they stand there (:meth:`TagRule.placed`).

Rules that judge the prompt as a whole may still ask one question of each spelling (PK208: is it written
against the profile's style? PK216: which famous names might it misspell?): their :meth:`Rule.spelling_fact` is
kept in the same record, and the pass hands each such rule the tags that have a fact (:meth:`LintContext.facts`);
a caption's clean tags cost those rules nothing.

The findings are the ones each rule's own :meth:`TagRule.check` gives, in the same order per rule; the engine sorts
all findings by place and code, so the interleaving of rules does not show.
"""

from __future__ import annotations

from typing import Sequence

from .diagnostics import Diagnostic, Edit, Fix
from .rule import LintContext, Rule, TagRule

_NOTHING: tuple = ()


def tag_pass(ctx: LintContext, rules: Sequence[TagRule], fact_rules: Sequence[Rule] = ()) -> list[Diagnostic]:
    """The findings of ``rules`` on every tag of ``ctx``'s prompt, as their own ``check`` would give them; and
    for each of ``fact_rules``, its spelling facts (:meth:`Rule.spelling_fact`) of the tags that have one, which
    its ``check`` reads from :meth:`LintContext.facts`."""
    active = tuple(rule for rule in rules if rule.applies(ctx))
    facts_of = tuple(fact_rules)
    if not active and not facts_of:
        return []
    # one table per set of rules (a selection), dialect and negative flag; entries keyed by the spelling
    codes = ",".join(rule.code for rule in active) + "|" + ",".join(rule.code for rule in facts_of)
    records = ctx.table(f"tag_pass:{ctx.prompt.dialect}:{ctx.negative}:{codes}")
    found: list[Diagnostic] = []
    collected: list[list] = [[] for _ in facts_of]
    for tag in ctx.tags:
        key = (tag.raw, tag.text, tag.name, tag.namespace)
        record = records.get(key)
        if record is None:
            record = records[key] = _record(ctx, active, facts_of, tag)
        if record is _NOTHING:
            continue
        findings, facts = record
        for rule, relative in findings:
            found.extend(rule.placed(ctx, tag, [_moved(d, tag.start) for d in relative]))
        for i, fact in facts:
            collected[i].append((tag, fact))
    ctx.keep_facts({rule.code: tags for rule, tags in zip(facts_of, collected)})
    return found


def _record(ctx: LintContext, rules: tuple[TagRule, ...], fact_rules: tuple[Rule, ...], tag) -> tuple:
    """What ``rules`` find on ``tag``'s spelling and what ``fact_rules`` know of it: ((rule, findings relative
    to the tag's start) for each rule that finds something, (index, fact) for each rule with a fact), or
    :data:`_NOTHING` for neither (most tags)."""
    findings = []
    for rule in rules:
        relative = [_moved(d, -tag.start) for d in rule.check_tag(ctx, tag)]
        if relative:
            findings.append((rule, relative))
    facts = []
    for i, rule in enumerate(fact_rules):
        fact = rule.spelling_fact(ctx, tag)
        if fact is not None:
            facts.append((i, fact))
    return (tuple(findings), tuple(facts)) if findings or facts else _NOTHING


def _moved(d: Diagnostic, by: int) -> Diagnostic:
    """A new finding ``by`` characters further (each prompt gets its own objects: the engine sets line and
    column on them)."""
    fix = d.fix
    if fix is not None:
        fix = Fix(fix.description, tuple(Edit(e.start + by, e.end + by, e.replacement) for e in fix.edits), fix.safe)
    return Diagnostic(d.code, d.name, d.severity, d.message, d.start + by, d.end + by, list(d.suggestions), fix)
