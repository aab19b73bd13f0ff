"""``promptkit fmt``: reorder tags to the profile template and normalize spelling and spacing.

Reordering is what a user asks for by running ``fmt`` (word order changes what the encoder attends to, so
lint offers it only as an unsafe fix); it applies only to models trained in a fixed tag order.

Formatting is the linter's safe fixes (renamed tags, underscores/spaces, weight spacing, empty and
stacked brackets), then the profile's tag order, then ``, `` between top-level items. Every tag
is kept with its weight; running the formatter twice changes nothing the second time. Like the linter it
judges tags against the profile's own tag sources, so it never rewrites a tag into another concept.
"""

from __future__ import annotations

from ..syntax.ast import Separator
from .diagnostics import Edit, apply_edits

# The safe fixes that make up formatting (see each rule's docs); the order comes from ordering.py.
FORMAT_RULES = ("PK104", "PK105", "PK108", "PK202", "PK208", "PK214")


def normalize_spacing(text: str, dialect: str = "a1111") -> str:
    """``, `` after every top-level comma (``,`` at the end of a line), no trailing whitespace."""
    from ..syntax import parse

    prompt = parse(text, dialect)
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


def reorder(text: str, profile, dialect: str, db, negative: bool) -> str:
    """The profile's tag order (for a profile whose model was trained in a fixed order; never in negative
    prompts; never across BREAK, AND, lines, placeholders or ``###``: see ordering.py)."""
    from ..syntax import parse
    from .engine import _namespaces, resolve_profile
    from .ordering import order_items
    from .rule import LintContext

    prof = resolve_profile(profile)
    if negative or not prof.ordering or not prof.ordering_strict:
        return text
    if db is None:
        from ..tags import TagDB

        db = TagDB.for_profile(prof)
    ctx = LintContext(parse(text, dialect or prof.dialect, namespaces=_namespaces(prof)), prof, db)
    plan = order_items(ctx)
    if not plan or not plan[0]:
        return text
    return apply_edits(text, plan[0])


def format_prompt(text: str, profile=None, dialect: str | None = None, db=None,
                  negative: bool = False, container: str | None = None, path: str | None = None) -> str:
    """Format a prompt (see the module docstring). Idempotent.

    A container text (``container``, ``path``: as :func:`~promptkit.linter.lint_prompt`) is formatted prompt by
    prompt: nothing moves across a prompt, region or placeholder, and they stay byte for byte.
    """
    from ..contain import split_document
    from .engine import fix_text, resolve_profile

    prof = resolve_profile(profile)
    doc = split_document(text, container=container, path=path, negative=negative)
    if not doc.plain:
        from .containers import format_document

        return format_document(doc, prof, dialect, db)
    negative = doc.segments[0].negative
    dialect = dialect or prof.dialect
    fixed, _ = fix_text(text, profile=prof, dialect=dialect, db=db, select=FORMAT_RULES, negative=negative,
                        container="prompt")
    return normalize_spacing(reorder(fixed, prof, dialect, db, negative), dialect)
