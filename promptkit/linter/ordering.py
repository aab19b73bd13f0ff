"""Ordering tags by a profile's template: shared by the tag-order rule (PK303) and ``fmt``.

Word order changes what the text encoder attends to, so a reorder is never a same-meaning edit: it is only
ever offered as an unsafe fix (PK303, off by default) or asked for with ``promptkit fmt``. A prompt is cut
into segments that tags never leave: at ``BREAK``, ``AND`` and newlines, and at every item that is a fixed
point: a template placeholder (``{prompt}``, ``{p}``, ``{np}``, ``[name]``, ``[filewords]``, ``__wildcard__``,
``{a|b}`` variants), the ``###`` before a Horde style's negative part, and a group whose tags belong in
different slots (``(masterpiece, 1girl:1.2)`` stays where its author put it, whole). Each segment's top-level
items are sorted by the template slot of their first tag, stably. The cost is linear in the prompt: one
pass over the items with a pointer into the tags.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..syntax.ast import And, Break, Group, Separator, Text
from ..syntax.prompt import Tag
from .diagnostics import Edit

if TYPE_CHECKING:
    from .rule import LintContext


def slot_index(ctx: "LintContext", tag: Tag) -> int:
    """The template slot of a tag; an unescaped ``name (series)`` counts as the tag it spells."""
    from .rules.tags import construct_tags, unescaped_heads

    if tag.index in construct_tags(ctx):
        for start, group, (name, _, combined) in unescaped_heads(ctx):
            if start <= tag.start < group.end and combined and ctx.db is not None:
                info = ctx.db.lookup(name)
                if info is not None:
                    return ctx.profile.slot_of(info.category.value)
    return ctx.profile.slot_of(ctx.kind(tag))


def slot_name(ctx: "LintContext", tag: Tag) -> str:
    slots = ctx.profile.ordering
    i = slot_index(ctx, tag)
    return slots[i].name if i < len(slots) else "rest"


# Items that never move and that nothing moves across: container and template markers.
_FIXED = re.compile(r"###|\{[^{}]*\}|\[(?:name|filewords)\]|__[^_\s,][^,\s]*__|\$\{|\{\w*$|^\w*\}")


def fixed_item(text: str) -> bool:
    """An item that is a template placeholder, a variant or a part boundary (see the module docstring)."""
    return _FIXED.search(text) is not None


def segments(ctx: "LintContext") -> list[list[tuple[int, int]]]:
    """Top-level items grouped into segments that may be reordered (BREAK, AND and newlines end a segment)."""
    text = ctx.text
    found: list[list[tuple[int, int]]] = [[]]
    start = 0

    def close_item(end: int) -> None:
        s, e = start, end
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            found[-1].append((s, e))

    for node in ctx.prompt.children:
        t = type(node)
        if t is Separator:
            close_item(node.start)
            start = node.end
            if node.raw == "\n":
                found.append([])
        elif t is Break or t is And:
            close_item(node.start)
            start = node.end
            found.append([])
    close_item(len(text))
    return [s for s in found if len(s) > 1]


def order_items(ctx: "LintContext") -> tuple[list[Edit], tuple[Tag, Tag] | None] | None:
    """Edits that sort each segment's items by template slot (stable), and the first misplaced pair.

    None when the prompt has an unclosed bracket or a stray closer: moving text across it would change
    the weights.
    """
    if not ctx.profile.ordering or not balanced(ctx):
        return None
    tags = ctx.tags
    edits: list[Edit] = []
    first_bad: tuple[Tag, Tag] | None = None
    pointer = 0
    profile = ctx.profile
    character, series = profile.slot_of("character"), profile.slot_of("copyright")
    rest = profile.slot_of("general")
    for whole in segments(ctx):
        runs: list[list[tuple[int, int, int, Tag | None]]] = [[]]
        last_slot = 0
        named = False  # a character and then its series were met: later ones are a second character or a cosplay
        for s, e in whole:
            while pointer < len(tags) and tags[pointer].start < s:
                pointer += 1
            first = tags[pointer] if pointer < len(tags) and tags[pointer].start < e else None
            slots = set()
            i = pointer
            while i < len(tags) and tags[i].start < e:
                slots.add(slot_index(ctx, tags[i]))
                i += 1
            if fixed_item(ctx.text[s:e]) or len(slots) > 1:
                runs.append([])  # a fixed point: it stays, and nothing moves across it
                continue
            slot = slot_index(ctx, first) if first is not None else last_slot
            if named and (slot == character or (slot == series and last_slot != series)):
                slot = rest  # `1girl, arima kana, oshi no ko, hoshimachi suisei, ...`: the cosplayed one
            elif slot == series and last_slot == character:
                named = True
            last_slot = slot
            runs[-1].append((slot, s, e, first))
        for keyed in runs:
            if len(keyed) < 2:
                continue
            edit, bad = _sort_run(ctx, keyed)
            if edit is not None:
                edits.append(edit)
                if first_bad is None:
                    first_bad = bad
    if not edits:
        return [], None
    return edits, first_bad


def _sort_run(ctx: "LintContext", keyed: list) -> tuple[Edit | None, tuple[Tag, Tag] | None]:
    """The edit that sorts one run of movable items (stable), and its first misplaced pair."""
    ordered = sorted(keyed, key=lambda k: k[0])  # stable
    if all(a[1] == b[1] for a, b in zip(ordered, keyed)):
        return None, None
    first_bad: tuple[Tag, Tag] | None = None  # the first tag that comes after a tag it should precede
    best = None
    for entry in keyed:
        if entry[3] is None:
            continue  # an item without tags (a LoRA) moves with the item before it
        if best is not None and entry[0] < best[0]:
            first_bad = (entry[3], best[3])
            break
        if best is None or entry[0] >= best[0]:
            best = entry
    seg_start, seg_end = keyed[0][1], keyed[-1][2]
    body = ", ".join(ctx.text[s:e] for _, s, e, _ in ordered)
    return Edit(seg_start, seg_end, body), first_bad


def balanced(ctx: "LintContext") -> bool:
    for node in ctx.prompt.walk():
        if (type(node) is Group and not node.closed) or (type(node) is Text and node.kind == Text.STRAY):
            return False
    return True
