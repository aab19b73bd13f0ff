"""Linting dynamic-prompts templates: the template-level rules (PK4xx) and where each option's text is.

``lint_template`` reports what only the template and its wildcard folder show (a syntax error, a missing
wildcard with the nearest names, a wildcard cycle, an option repeated or empty to no purpose, more prompts
than a limit). The tags inside the options are the regular linter's job: ``template_fragments`` gives each
piece of literal text with its span, so a typo in ``{long hiar|short hair}`` is reported at ``1:10``.
"""

from __future__ import annotations

import re
from typing import Iterator

from ..syntax.dynamic import _SPECIAL, Template, Text, Variants, Wildcard, parse_template, render
from ..syntax.errors import PromptSyntaxError
from ..templates.expand import ExpansionError, Expander, _key, _nearest, big_number
from ..templates.wildcards import Wildcards, WildcardsArg
from .diagnostics import Diagnostic
from .rules.templates import (
    ConflictInExpansion, EmptyOption, MissingWildcard, RepeatedOption, TemplateSyntax, TooManyPrompts, WildcardCycle,
)

DEFAULT_LIMIT = 100_000


def lint_template(text: str, *, wildcards: WildcardsArg = None, limit: int = DEFAULT_LIMIT,
                  profile: str | None = None) -> list[Diagnostic]:
    """Template-level findings for ``text`` against ``wildcards`` (a folder, a mapping or None), located.

    Wildcards are judged only when a collection is given (without one every wildcard would be missing).
    """
    if limit >= 1 and not _SPECIAL.search(text):
        # plain text (most wildcard lines): no variant, no wildcard, at most one prompt, so nothing to find;
        # a run of such lines skips the tree walks and the expander
        if wildcards is not None:
            Wildcards.load(wildcards)  # a collection that cannot be read is refused all the same
        return []
    try:
        tree = parse_template(text)
    except PromptSyntaxError as exc:
        d = TemplateSyntax().diagnostic(f"{exc.message}" + (f": {exc.hint}" if exc.hint else ""), exc.offset,
                                        min(len(text), exc.offset + 1))
        return [d.locate(text)]
    found: list[Diagnostic] = []
    found.extend(_options(tree))
    found.extend(_conflicts(tree, profile))
    broken = False
    if wildcards is not None:
        source = Wildcards.load(wildcards)
        walker = _WildcardWalker(source)
        for node in tree.walk():
            if type(node) is Wildcard:
                d = walker.check(node)
                if d is not None:
                    found.append(d)
                    broken = True
    else:
        source = None
        broken = any(type(n) is Wildcard for n in tree.walk())
    if not broken:
        try:
            total = Expander(source).count(text)
        except ExpansionError:
            total = None
        if total is not None and total > limit:
            found.append(TooManyPrompts().diagnostic(
                f"the template makes {big_number(total)} prompts (limit {limit:,})", 0, len(text)))
    for d in found:
        d.locate(text)
    found.sort(key=lambda d: (d.start, d.code))
    return found


def _options(tree: Template) -> Iterator[Diagnostic]:
    repeated, empty = RepeatedOption(), EmptyOption()
    for node in tree.walk():
        if type(node) is not Variants:
            continue
        seen: dict = {}
        empties = 0
        for number, option in enumerate(node.options, 1):
            body = option.body
            blank = not body or all(type(n) is Text and not n.value.strip() for n in body)
            if blank:
                empties += 1
                if empties == 2:  # once per variant, however many more there are
                    yield empty.diagnostic("a second empty option: options written the same are one",
                                           option.start, option.end)
                elif empties == 1 and node.bounded and node.hi > 1:
                    yield empty.diagnostic("an empty option in a {n$$...} variant makes prompts with a "
                                           "dangling separator", option.start, option.end)
                continue
            key = _key(body)
            if key in seen:
                first = seen[key]
                yield repeated.diagnostic(
                    f"option {render(option).strip()!r} repeats option {first}: random mode picks it twice as often, "
                    "combinatorial mode makes it once; to weight it write a weight such as 2::",
                    option.body_start, option.body_end)
            else:
                seen[key] = number


_COUNTISH = re.compile(r"solo|no[ _]humans|\d|multiple", re.IGNORECASE)  # text that may hold a count tag


def _conflicts(tree: Template, profile: str | None) -> Iterator[Diagnostic]:
    """PK406: each top-level variant's plain-text options against the count tags of the template's own
    top-level text: a count conflict (PK205) that appears with the option and not without it. Only options
    that may hold a count tag are linted, each with the (few) count tags of the template: linear in the
    template."""
    from ..syntax import parse
    from ..tags.counts import people_in
    from .engine import lint_prompt

    variants = [n for n in tree.body if type(n) is Variants]
    if not variants:
        return
    base_text = ", ".join(n.value for n in tree.body if type(n) is Text)
    counted: dict[str, str] = {}  # each count tag once: the base stays a few tags long
    if _COUNTISH.search(base_text):
        for t in parse(base_text).tags:
            if (people_in(t.name) or t.name in ("solo", "no_humans")) and t.name not in counted:
                counted[t.name] = t.text
    base = ", ".join(counted.values())
    verdicts: dict[str, set[str]] = {}  # option text -> its new conflicts (options repeat across variants)

    def conflicts(text: str) -> set[str]:
        return {d.message for d in lint_prompt(text, profile=profile, select=["PK205"]).diagnostics}

    before = conflicts(base) if base else set()
    rule = ConflictInExpansion()
    for node in variants:
        for option in node.options:
            if not option.body or any(type(n) is not Text for n in option.body):
                continue
            text = "".join(n.value for n in option.body)
            if not _COUNTISH.search(text):
                continue
            if not base:
                continue  # a conflict inside the option alone is the regular linter's (PK205 on the fragment)
            if text not in verdicts:
                verdicts[text] = conflicts(f"{base}, {text}") - before - conflicts(text)
            for message in sorted(verdicts[text]):
                yield rule.diagnostic(f"with this option: {message}", option.body_start, option.body_end)


class _WildcardWalker:
    """Missing wildcards and cycles, following wildcard files into the wildcards they use (each name once)."""

    def __init__(self, source: Wildcards) -> None:
        self.source = source
        self.state: dict[str, object] = {}  # name -> "open" while being walked, then a problem or None
        self.parsed: dict[str, Template | None] = {}

    def check(self, node: Wildcard) -> Diagnostic | None:
        path = node.literal_path
        if path is None:
            return None  # a name made from variables or variants: known only while expanding
        problem = self._walk(path, ())
        if problem is None:
            return None
        kind, message, names = problem
        rule = MissingWildcard() if kind == "missing" else WildcardCycle()
        return rule.diagnostic(message, node.start, node.end, suggestions=names)

    def _walk(self, name: str, chain: tuple[str, ...]):
        state = self.state.get(name, "new")
        if state == "open":
            return ("cycle", f"wildcard cycle: {' -> '.join((*chain, name))}", [])
        if state != "new":
            return state  # type: ignore[return-value]
        items = self.source.values(name)
        if not items:
            names = self.source.names()
            problem = ("missing", f"no wildcard {name!r} in the folder" + (f" (used via {' -> '.join(chain)})"
                       if chain else ""), _nearest(name, names) if names else [])
            self.state[name] = problem
            return problem
        self.state[name] = "open"
        result = None
        for item in items:
            tree = self._parse(item.text)
            if tree is None:
                continue
            for sub in tree.walk():
                if type(sub) is Wildcard and sub.literal_path is not None:
                    problem = self._walk(sub.literal_path, (*chain, name))
                    if problem is not None:
                        kind, message, names = problem
                        if kind == "cycle" and "(at " not in message:
                            message += f" (at {item.origin})"
                        elif kind == "missing" and "(at " not in message:
                            message += f" (at {item.origin})"
                        result = (kind, message, names)
                        break
            if result is not None:
                break
        self.state[name] = result
        return result

    def _parse(self, text: str) -> Template | None:
        if text not in self.parsed:
            try:
                self.parsed[text] = parse_template(text.expandtabs() if "\t" in text else text)
            except PromptSyntaxError:
                self.parsed[text] = None
        return self.parsed[text]


def template_fragments(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the literal text in a template (inside options and between constructs, comments left out):
    the prompt fragments the regular linter checks in place."""
    tree = parse_template(text)
    stack = [iter(tree.body)]
    while stack:
        for node in stack[-1]:
            if isinstance(node, str) or type(node) is Wildcard:
                continue  # a wildcard's name is not prompt text
            if type(node) is Text:
                yield from _text_spans(node)
                continue
            stack.append(iter(node.pieces))
            break
        else:
            stack.pop()


def _text_spans(node: Text) -> Iterator[tuple[int, int]]:
    pos = node.start
    for piece in node.pieces:
        if isinstance(piece, str):
            yield pos, pos + len(piece)
            pos += len(piece)
        else:
            pos = piece.end
