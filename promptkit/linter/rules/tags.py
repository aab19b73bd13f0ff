"""Tag rules (PK2xx): checked against the tag database and the profile's own vocabulary."""

from __future__ import annotations

import re
from typing import Iterable

from ..._resources import known_namespaces
from ...syntax.ast import Group, Node, Text, render_source
from ...syntax.normalize import KAOMOJI, lookup_key, prompt_spelling, unescape
from ...tags.counts import people_in
from ..diagnostics import Diagnostic, Edit, Severity
from ..rule import LintContext, Rule, register

_WORDS = re.compile(r"[^\s_]+")
_NOT_A_TAG = re.compile(r"^[\d.,:;!?\s-]*$|^__.*__$|^embedding:|\.$|^\{.*\}$")


def removal_edit(text: str, start: int, end: int) -> Edit:
    """Remove ``text[start:end]`` together with the separator that follows it (or, last, precedes it)."""
    after = end
    while after < len(text) and text[after] in " \t":
        after += 1
    if after < len(text) and text[after] == ",":
        after += 1
        while after < len(text) and text[after] in " \t":
            after += 1
        return Edit(start, after, "")
    before = start
    while before > 0 and text[before - 1] in " \t":
        before -= 1
    if before > 0 and text[before - 1] == ",":
        before -= 1
    return Edit(before, end, "")


def looks_like_tag(ctx: LintContext, text: str) -> bool:
    """Short comma-separated phrases are tags; sentences are natural language, which the DB cannot judge."""
    if _NOT_A_TAG.search(text):
        return False
    words = len(_WORDS.findall(text))
    return words <= (3 if ctx.profile.natural_language else 6)


def spelled(ctx: LintContext, name: str) -> str:
    """A database name written the way the profile wants it in a prompt."""
    keep = ctx.profile.tag_style == "underscores" or name in ctx.profile.keep_underscores
    return prompt_spelling(name, escape=ctx.profile.escape_parentheses and ctx.prompt.dialect != "compel",
                           underscores=keep)


@register
class UnknownTag(Rule):
    """A tag that is in none of the tag databases nor the profile's own vocabulary.

    Why: tag-trained models only know the tags of their training captions; a misspelled or invented tag is
    read as loose words, if at all. Suggestions come from the bundled Danbooru and e621 lists.

    Example: ``1grl, long hiar`` -> ``1girl, long hair``. Fix (unsafe): the closest known tag.
    """

    code = "PK201"
    name = "unknown-tag"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        from .model import ladder_owners

        vocabulary = ctx.profile.vocabulary
        severity = Severity.INFO if ctx.profile.natural_language else Severity.WARNING
        heads = {start for start, _ in unescaped_tag_heads(ctx)}  # reported by PK206/PK207 instead
        foreign = ladder_owners()  # reported by PK301 instead
        for tag in ctx.tags:
            if tag.namespace or tag.name in vocabulary or ctx.info(tag) is not None:
                continue
            if tag.start in heads or tag.name in foreign:
                continue
            if not looks_like_tag(ctx, tag.text) or tag.name in KAOMOJI:
                continue
            suggestions = [s for s in ctx.db.suggest(tag.name, limit=3) if (s.score or 0) >= 75]
            names = [spelled(ctx, s.name) for s in suggestions]
            fix = None
            if suggestions and (suggestions[0].score or 0) >= 85:
                fix = self.fix(f"replace with '{names[0]}'", Edit(tag.start, tag.end, names[0]))
            hint = f"; did you mean {', '.join(repr(n) for n in names)}?" if names else ""
            yield self.diagnostic(f"unknown tag {tag.text!r}{hint}", tag.start, tag.end, severity=severity,
                                  suggestions=names, fix=fix)


@register
class AliasTag(Rule):
    """A tag written as an alias of its canonical name.

    Why: the sites rename tags; captions (and so the model) use the canonical name, so the alias is a
    weaker or unknown token sequence.

    Example: ``hires`` -> ``highres``. Fix (safe): write the canonical name.
    """

    code = "PK202"
    name = "alias-tag"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "safe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        for tag in ctx.tags:
            info = ctx.info(tag)
            if info is None or info.matched != "alias" or tag.name in ctx.profile.vocabulary:
                continue
            prefix = ctx.text[tag.start:tag.end].split(":", 1)[0] + ":" if tag.namespace else ""
            new = prefix + spelled(ctx, info.name)
            yield self.diagnostic(f"{tag.text!r} is an alias of {info.name!r}", tag.start, tag.end,
                                  suggestions=[new], fix=self.fix(f"write '{new}'", Edit(tag.start, tag.end, new)))


@register
class ImpliedTag(Rule):
    """A tag made redundant by a more specific tag that implies it.

    Why: ``very long hair`` implies ``long hair`` on Danbooru, so captions with the specific tag always
    carry the general one; writing both spends tokens and over-weights the concept.

    Example: ``long hair, very long hair`` -> ``very long hair``. Fix (unsafe): remove the implied tag.
    """

    code = "PK203"
    name = "implied-tag"
    category = "tags"
    severity = Severity.INFO
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        present = {}
        for tag in ctx.tags:
            info = ctx.info(tag)
            if info is not None and tag.branch is None:
                present.setdefault(info.name, tag)
        for name, tag in present.items():
            for implied in ctx.db.implied(name):
                other = present.get(implied)
                if other is not None and other is not tag:
                    yield self.diagnostic(f"{other.text!r} is implied by {tag.text!r}", other.start, other.end,
                                          fix=self.fix(f"remove {other.text!r}",
                                                       removal_edit(ctx.text, other.start, other.end)))


@register
class DuplicateTag(Rule):
    """The same tag twice (also across spellings: ``long_hair`` and ``long hair``, or an alias).

    Why: a repeated tag is a hidden weight increase and wastes tokens; with different weights it is unclear
    which one was meant.

    Example: ``long hair, smile, long_hair`` -> ``long hair, smile``. Fix (unsafe): remove the repetition.
    """

    code = "PK204"
    name = "duplicate-tag"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        seen: dict[tuple[str | None, str], object] = {}
        for tag in ctx.tags:
            info = ctx.info(tag)
            key = (tag.branch, info.name if info is not None else tag.qualified_name)
            first = seen.get(key)
            if first is None:
                seen[key] = tag
                continue
            yield self.diagnostic(f"{tag.text!r} repeats {first.text!r}", tag.start, tag.end,  # type: ignore
                                  fix=self.fix("remove the repetition", removal_edit(ctx.text, tag.start, tag.end)))


@register
class ConflictingCount(Rule):
    """Count tags that contradict each other: ``solo`` with ``2girls``, ``no humans`` with ``1girl``.

    Why: the model cannot satisfy both, and usually blends them into extra limbs or faces.

    Example: ``solo, 2girls`` -> ``2girls``.
    """

    code = "PK205"
    name = "conflicting-count"
    category = "tags"
    severity = Severity.WARNING

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.negative:
            return
        top = [t for t in ctx.tags if t.branch is None]
        people = 0
        counted = []
        for tag in top:
            n = people_in(tag.name)
            if n:
                people += n
                counted.append(tag)
        for tag in top:
            if tag.name == "solo" and people > 1:
                others = ", ".join(t.text for t in counted)
                yield self.diagnostic(f"'solo' contradicts {others}", tag.start, tag.end)
            if tag.name == "no_humans" and counted:
                yield self.diagnostic(f"'no humans' contradicts {counted[0].text!r}", tag.start, tag.end)


def _tag_in_group(ctx: LintContext, prev: Node, group: Group) -> tuple[str, int] | None:
    """``name (series)`` written without escapes: the combined DB name and where it starts, if it is a tag."""
    if type(prev) is not Text or prev.kind != Text.PLAIN or not prev.value.strip():
        return None
    head = prev.value
    stripped = head.strip()
    inner = unescape(render_source(group.children))
    if group.kind == "weight":
        inner = inner + group.close[:-1]  # "(reverse:1999)" -> "reverse:1999"
    candidate = f"{stripped} ({inner.strip()})"
    info = ctx.db.lookup(candidate) if ctx.db is not None else None
    if info is None:
        return None
    return info.name, prev.start + (len(head) - len(head.lstrip()))


def _sibling_lists(ctx: LintContext):
    yield ctx.prompt.children
    for node in ctx.prompt.walk():
        if type(node) is Group:
            yield node.children


def unescaped_tag_heads(ctx: LintContext) -> list[tuple[int, Group]]:
    """(start, group) of every ``name (series)`` / ``name (x:1999)`` whose parentheses make a known tag."""
    found = []
    for parent in _sibling_lists(ctx):
        for prev, node in zip(parent, parent[1:]):
            if type(node) is Group and node.kind in ("round", "weight") and node.closed:
                hit = _tag_in_group(ctx, prev, node)
                if hit is not None:
                    found.append((hit[1], node))
    return found


@register
class UnescapedParentheses(Rule):
    """A tag with parentheses written unescaped, so A1111 reads them as emphasis.

    Why: ``kazusa (blue archive)`` is read as ``kazusa`` plus ``blue archive`` at 1.1; the model never
    sees the character tag ``kazusa_(blue_archive)``. Escaped as ``\\( \\)`` the parentheses are text.

    Example: ``kazusa (blue archive)`` -> ``kazusa \\(blue archive\\)``. Fix (unsafe: weights change).
    """

    code = "PK206"
    name = "unescaped-parentheses"
    category = "tags"
    severity = Severity.WARNING
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        if ctx.prompt.dialect not in ("a1111", "comfy"):
            return
        for parent in _sibling_lists(ctx):
            for prev, node in zip(parent, parent[1:]):
                if type(node) is not Group or node.kind != "round" or not node.closed:
                    continue
                found = _tag_in_group(ctx, prev, node)
                if found is None:
                    continue
                name, start = found
                fixed = spelled(ctx, name)
                yield self.diagnostic(
                    f"the parentheses of {name!r} are read as emphasis; escape them", start, node.end,
                    suggestions=[fixed], fix=self.fix(f"write '{fixed}'", Edit(start, node.end, fixed)))


@register
class WeightLikeTag(Rule):
    """A tag ending in ``:digits`` inside parentheses, which A1111 reads as a weight.

    Why: ``vertin (reverse:1999)`` unescaped gives ``reverse`` a weight of 1999, which destroys the image;
    tags like ``reverse:1999`` or ``16:9`` must have their parentheses escaped.

    Example: ``vertin (reverse:1999)`` -> ``vertin \\(reverse:1999\\)``. Fix (unsafe: weights change).
    """

    code = "PK207"
    name = "weight-like-tag"
    category = "tags"
    severity = Severity.ERROR
    fix_safety = "unsafe"
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        for parent in _sibling_lists(ctx):
            for i, node in enumerate(parent):
                if type(node) is not Group or node.kind != "weight" or not node.closed:
                    continue
                prev = parent[i - 1] if i else None
                found = _tag_in_group(ctx, prev, node) if prev is not None else None
                if found is not None:
                    name, start = found
                else:
                    inner = unescape(render_source(node.children)).strip() + node.close[:-1].replace(" ", "")
                    info = ctx.db.lookup(inner) if ctx.db is not None else None
                    if info is None or ":" not in info.name:
                        continue
                    name, start = info.name, node.start
                fixed = spelled(ctx, name)
                yield self.diagnostic(
                    f"A1111 reads {node.close[:-1]!r} of {name!r} as a weight of {format_number(node.multiplier)}",
                    start, node.end, suggestions=[fixed], fix=self.fix(f"write '{fixed}'", Edit(start, node.end, fixed)))


def format_number(x: float) -> str:
    return f"{x:g}"


@register
class TagStyle(Rule):
    """Underscores or spaces against the profile's style.

    Why: most anime models were trained on captions with underscores replaced by spaces (kaomoji such as
    ``^_^`` excepted), while pseudo-tags like Pony's ``score_9`` must keep theirs.

    Example (Kivotos): ``long_hair`` -> ``long hair``. Fix (safe): the same tag in the profile's style.
    """

    code = "PK208"
    name = "tag-style"
    category = "tags"
    severity = Severity.INFO
    fix_safety = "safe"

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        profile = ctx.profile
        keep = set(profile.keep_underscores)
        for tag in ctx.tags:
            raw = ctx.text[tag.start:tag.end]
            if tag.name in keep:
                if " " in raw:
                    fixed = raw.replace(" ", "_")
                    yield self.diagnostic(f"{tag.name!r} keeps its underscores", tag.start, tag.end,
                                          fix=self.fix(f"write '{fixed}'", Edit(tag.start, tag.end, fixed)))
                continue
            if profile.tag_style == "spaces" and "_" in raw and tag.name not in KAOMOJI and \
                    not any(k in raw for k in KAOMOJI) and not raw.startswith("__"):
                if tag.name not in profile.vocabulary and (ctx.db is None or ctx.info(tag) is None):
                    continue
                fixed = raw.replace("_", " ")
                yield self.diagnostic(f"write '{fixed}': {profile.id} was trained with spaces", tag.start, tag.end,
                                      fix=self.fix(f"write '{fixed}'", Edit(tag.start, tag.end, fixed)))
            elif profile.tag_style == "underscores" and " " in raw.strip():
                fixed = raw.replace(" ", "_")
                yield self.diagnostic(f"write '{fixed}': {profile.id} was trained with underscores",
                                      tag.start, tag.end,
                                      fix=self.fix(f"write '{fixed}'", Edit(tag.start, tag.end, fixed)))


_PREFIX = re.compile(r"^([a-z]{2,12}):(?!\s)")


@register
class UnknownNamespace(Rule):
    """A ``word:tag`` whose prefix looks like a namespace but is not a known one.

    Why: namespaces (``species:seal``, ``artist:name``) only work when the model was trained with them;
    a misspelled prefix becomes part of the text.

    Example: ``specie:seal`` -> ``species:seal``.
    """

    code = "PK209"
    name = "unknown-namespace"
    category = "tags"
    severity = Severity.INFO
    needs_db = True

    def check(self, ctx: LintContext) -> Iterable[Diagnostic]:
        known = sorted(known_namespaces() | set(ctx.profile.namespaces))
        for tag in ctx.tags:
            if tag.namespace:
                continue
            m = _PREFIX.match(tag.text.lower())
            if not m or ctx.info(tag) is not None:
                continue
            rest = lookup_key(tag.text[m.end():])
            if not rest or ctx.db.lookup(rest) is None:
                continue
            from rapidfuzz import process

            close = process.extractOne(m.group(1), known, score_cutoff=70)
            hint = [f"{close[0]}:{tag.text[m.end():]}"] if close else []
            yield self.diagnostic(f"{m.group(1)!r} is not a known namespace", tag.start, tag.start + len(m.group(1)),
                                  suggestions=hint)
