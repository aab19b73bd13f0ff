"""``promptkit fmt``: reorder tags to the profile template and normalize spelling and spacing.

Formatting is the linter's safe fixes (aliases, underscores/spaces, weight spacing, stray closers, stacked
brackets, tag order) plus ``, `` between top-level items. Every tag is kept with its weight; running the
formatter twice changes nothing the second time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..syntax.ast import And, Break, Separator
from ..syntax.prompt import Tag
from .diagnostics import Edit, apply_edits

if TYPE_CHECKING:
    from .rule import LintContext

# The safe fixes that make up formatting (see each rule's docs).
FORMAT_RULES = ("PK101", "PK104", "PK105", "PK108", "PK202", "PK208", "PK303")


def slot_index(ctx: "LintContext", tag: Tag) -> int:
    return ctx.profile.slot_of(ctx.kind(tag))


def slot_names(ctx: "LintContext", tag: Tag) -> str:
    slots = ctx.profile.ordering
    i = slot_index(ctx, tag)
    return slots[i].name if i < len(slots) else "rest"


def _segments(ctx: "LintContext") -> list[list[tuple[int, int]]]:
    """Top-level items grouped into segments that may be reordered (BREAK, AND and newlines end a segment)."""
    text = ctx.text
    segments: list[list[tuple[int, int]]] = [[]]
    start = 0

    def close_item(end: int) -> None:
        s, e = start, end
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            segments[-1].append((s, e))

    for node in ctx.prompt.children:
        t = type(node)
        if t is Separator:
            close_item(node.start)
            start = node.end
            if node.raw == "\n":
                segments.append([])
        elif t is Break or t is And:
            close_item(node.start)
            start = node.end
            segments.append([])
    close_item(len(text))
    return [s for s in segments if len(s) > 1]


def order_items(ctx: "LintContext") -> tuple[list[Edit], tuple[Tag, Tag] | None] | None:
    """Edits that sort each segment's items by template slot (stable), and the first misplaced pair."""
    if not ctx.profile.ordering or not _balanced(ctx):
        return None  # moving text across an unclosed bracket would change its weight
    tags = ctx.tags
    edits: list[Edit] = []
    first_bad: tuple[Tag, Tag] | None = None
    for items in _segments(ctx):
        keyed = []
        last_slot = 0
        for s, e in items:
            first = next((t for t in tags if s <= t.start < e), None)
            slot = slot_index(ctx, first) if first is not None else last_slot
            last_slot = slot
            keyed.append((slot, s, e, first))
        ordered = sorted(keyed, key=lambda k: k[0])  # stable
        if [k[1] for k in ordered] == [k[1] for k in keyed]:
            continue
        if first_bad is None:
            best = keyed[0]
            for entry in keyed[1:]:
                if entry[0] < best[0] and entry[3] is not None and best[3] is not None:
                    first_bad = (entry[3], best[3])
                    break
                if entry[0] >= best[0]:
                    best = entry
        seg_start, seg_end = keyed[0][1], keyed[-1][2]
        body = ", ".join(ctx.text[s:e] for _, s, e, _ in ordered)
        edits.append(Edit(seg_start, seg_end, body))
    if not edits:
        return [], None
    return edits, first_bad


def _balanced(ctx: "LintContext") -> bool:
    from ..syntax.ast import Group, Text

    for node in ctx.prompt.walk():
        if (type(node) is Group and not node.closed) or (type(node) is Text and node.kind == Text.STRAY):
            return False
    return True


def normalize_spacing(text: str) -> str:
    """``, `` after every top-level comma (``,`` at the end of a line), no trailing whitespace."""
    from ..syntax import parse

    prompt = parse(text)
    edits = []
    last_end = 0
    for node in prompt.children:
        if type(node) is Separator and node.raw == ",":
            s, e = node.start, node.end
            while s > last_end and text[s - 1] in " \t":
                s -= 1
            while e < len(text) and text[e] in " \t":
                e += 1
            at_line_end = e >= len(text) or text[e] == "\n"
            edits.append(Edit(s, e, "," if at_line_end else ", "))
            last_end = e
    out = apply_edits(text, edits)
    return "\n".join(line.rstrip() for line in out.split("\n")).strip()


def format_prompt(text: str, profile: str | None = None, dialect: str | None = None, db=None,
                  negative: bool = False) -> str:
    """Format a prompt (see the module docstring). Idempotent."""
    from .engine import fix_text

    fixed, _ = fix_text(text, profile=profile, dialect=dialect, db=db, select=FORMAT_RULES, negative=negative)
    return normalize_spacing(fixed)
