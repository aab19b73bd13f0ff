"""What a text holds: a :class:`Document` of :class:`Segment` s (prompts, regions, options), each with its span.

A segment's ``text`` is the prompt as the model (or the tool that fills the template) reads it: a quoted CSV
or JSON cell is unquoted, and ``offsets`` maps each of its characters back to the file. Placeholders (``{prompt}``,
``{p}``, ``[filewords]``, ``__wildcard__``, ``{a|b}`` ...) are spans of the segment that are not prompt text:
later stages skip them (lint masks them, fmt keeps them byte for byte).
"""

from __future__ import annotations

import bisect

# Roles a segment can have. Only the prompt roles are linted; settings (kohya options, infotext parameters) are not.
POSITIVE, NEGATIVE, REGION, COMMON, BASE, OPTION, SETTINGS = (
    "positive", "negative", "region", "common", "base", "option", "settings")
PROMPT_ROLES = frozenset({POSITIVE, NEGATIVE, REGION, COMMON, BASE, OPTION})


class Placeholder:
    """A span of a segment's text that is filled in later (not prompt text): ``{prompt}``, ``__hair__``, ``{a|b}``."""

    __slots__ = ("start", "end", "kind", "name")

    def __init__(self, start: int, end: int, kind: str, name: str = "") -> None:
        self.start, self.end, self.kind, self.name = start, end, kind, name

    def __repr__(self) -> str:
        return f"Placeholder({self.start}, {self.end}, {self.kind!r}, {self.name!r})"


class Segment:
    """One prompt, region or option of a document.

    ``start``/``end`` are offsets in the file; ``text`` is what the segment says (unquoted). ``offsets`` is None
    when ``text`` is the plain slice ``file[start:end]``, else a list mapping every text position (and the end)
    to a file offset. ``quoting`` says how a replacement must be written back: ``""`` (plain), ``"csv"`` (inside a
    quoted CSV cell), ``"csv-bare"`` (an unquoted CSV cell), ``"json"`` (inside a JSON/YAML double-quoted string),
    ``"yaml-plain"``/``"yaml-single"``. ``nested`` marks an option inside another segment's placeholder (a
    dynamic-prompts variant): it is linted, but fmt leaves it to its parent, which keeps the variant whole.
    ``dialect`` is None where the caller's (or the profile's) dialect applies.
    """

    __slots__ = ("start", "end", "text", "role", "dialect", "container", "placeholders", "offsets", "quoting",
                 "nested", "label")

    def __init__(self, start: int, text: str, role: str = POSITIVE, container: str = "prompt", *,
                 offsets: list[int] | None = None, quoting: str = "", placeholders: list[Placeholder] | None = None,
                 dialect: str | None = None, nested: bool = False, label: str = "") -> None:
        self.start = start
        self.text = text
        self.offsets = offsets
        self.end = offsets[-1] if offsets is not None else start + len(text)
        self.role = role
        self.container = container
        self.quoting = quoting
        self.placeholders = placeholders if placeholders is not None else []
        self.dialect = dialect
        self.nested = nested
        self.label = label

    def __repr__(self) -> str:
        return (f"Segment({self.start}, {self.end}, {self.role!r}, {self.text[:40]!r}"
                f"{', ' + str(len(self.placeholders)) + ' placeholders' if self.placeholders else ''})")

    @property
    def negative(self) -> bool:
        return self.role == NEGATIVE

    @property
    def is_prompt(self) -> bool:
        """Whether the segment is prompt text (linted), not settings."""
        return self.role in PROMPT_ROLES

    def to_file(self, position: int) -> int:
        """The file offset of a position in ``text`` (clamped to the segment)."""
        position = max(0, min(position, len(self.text)))
        return self.start + position if self.offsets is None else self.offsets[position]

    def from_file(self, offset: int) -> int | None:
        """The text position of a file offset inside this segment, or None when it lies outside."""
        if not self.start <= offset <= self.end:
            return None
        if self.offsets is None:
            return offset - self.start
        return bisect.bisect_left(self.offsets, offset)

    # the names the editing layer used before this module existed
    to_document = to_file
    from_document = from_file

    def encode(self, replacement: str) -> str | None:
        """A replacement as it must be written in the file, or None when this segment cannot hold it."""
        q = self.quoting
        if q == "csv":
            return replacement.replace('"', '""')
        if q == "csv-bare":
            return None if any(c in replacement for c in ',"\n\r') else replacement
        if q == "json":
            import json

            return json.dumps(replacement, ensure_ascii=False)[1:-1]
        if q == "yaml-single":
            return None if "\n" in replacement else replacement.replace("'", "''")
        if q == "yaml-plain":
            bad = ": " in replacement or " #" in replacement or "\n" in replacement or replacement.strip() != replacement
            return None if bad or replacement[:1] in "-?:,[]{}#&*!|>'\"%@`" else replacement
        return replacement

    def masked(self, fill: str = " ") -> str:
        """``text`` with every placeholder overwritten by ``fill`` but its line breaks (same length and lines)."""
        if not self.placeholders:
            return self.text
        parts: list[str] = []
        pos = 0
        for p in self.placeholders:
            if p.start < pos:  # pragma: no cover - placeholders do not overlap
                continue
            parts.append(self.text[pos:p.start])
            parts.append("\n".join(fill * len(line) for line in self.text[p.start:p.end].split("\n")))
            pos = p.end
        parts.append(self.text[pos:])
        return "".join(parts)

    def touches_placeholder(self, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` overlaps or borders a placeholder (an edit there would change its bytes
        or the bytes beside it)."""
        return any(start <= p.end and p.start <= end for p in self.placeholders)


class Document:
    """The prompts a text holds, in file order. ``container`` is the kind it was read as (see ``CONTAINERS``)."""

    __slots__ = ("text", "container", "path", "segments")

    def __init__(self, text: str, container: str, segments: list[Segment], path: str | None = None) -> None:
        self.text = text
        self.container = container
        self.segments = segments
        self.path = path

    def __repr__(self) -> str:
        return f"Document({self.container!r}, {len(self.segments)} segments)"

    @property
    def prompts(self) -> list[Segment]:
        """The segments that are prompt text (linted), in file order."""
        return [s for s in self.segments if s.is_prompt]

    @property
    def plain(self) -> bool:
        """True when the whole text is one prompt with nothing to skip (the linter's fast path)."""
        if len(self.segments) != 1:
            return False
        s = self.segments[0]
        return not s.placeholders and s.offsets is None and s.start == 0 and s.end == len(self.text)

    def segment_at(self, offset: int) -> Segment | None:
        """The innermost segment holding a file offset."""
        found = None
        for s in self.segments:
            if s.start <= offset <= s.end and (found is None or s.end - s.start <= found.end - found.start):
                found = s
        return found
