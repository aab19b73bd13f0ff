"""What the linter reports: diagnostics with spans, suggestions and fixes (marked safe or unsafe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..syntax.errors import line_col

EXCERPT_WIDTH = 100  # characters of the source line shown around a finding


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True, slots=True)  # slots: a big caption can have 100k findings
class Edit:
    """Replace ``text[start:end]`` with ``replacement``."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True, slots=True)
class Fix:
    """Edits that resolve a finding. A safe fix keeps every tag and its weight; an unsafe one may not."""

    description: str
    edits: tuple[Edit, ...]
    safe: bool

    def to_dict(self) -> dict:
        return {"description": self.description, "safe": self.safe,
                "edits": [{"start": e.start, "end": e.end, "replacement": e.replacement} for e in self.edits]}


@dataclass(slots=True)
class Diagnostic:
    code: str
    name: str
    severity: Severity
    message: str
    start: int
    end: int
    suggestions: list[str] = field(default_factory=list)
    fix: Fix | None = None
    line: int = 0
    column: int = 0

    def locate(self, text: str) -> "Diagnostic":
        self.line, self.column = line_col(text, self.start)
        return self

    def excerpt(self, text: str, width: int = EXCERPT_WIDTH) -> str:
        """The source around the span with carets under it: a window of the line, never a whole long line."""
        return window_excerpt(text, self.start, self.end, width)

    def to_dict(self) -> dict:
        return {
            "code": self.code, "name": self.name, "severity": self.severity.value, "message": self.message,
            "start": self.start, "end": self.end, "line": self.line, "column": self.column,
            "suggestions": list(self.suggestions), "fix": self.fix.to_dict() if self.fix else None,
        }


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits in one pass (linear in the text and the number of edits)."""
    if not edits:
        return text
    out: list[str] = []
    pos = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < pos:
            raise ValueError(f"overlapping edits at {edit.start}")
        out.append(text[pos:edit.start])
        out.append(edit.replacement)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


def window_excerpt(text: str, start: int, end: int, width: int = EXCERPT_WIDTH) -> str:
    """The line holding ``start``, cut to at most ``width`` characters around ``start:end`` (``...`` marks a
    cut), with carets under the span (clipped to the window). Cost is bounded by ``width``, not by the line."""
    start = max(0, min(start, len(text)))
    line_start = text.rfind("\n", max(0, start - width), start) + 1
    line_end = text.find("\n", start, start + width + 1)
    if (line_start > 0 or start < width) and line_end != -1 and line_end - line_start <= width or \
            (line_start > 0 or start < width) and line_end == -1 and len(text) - line_start <= width:
        left, right = line_start, (line_end if line_end != -1 else len(text))  # a short line: all of it
        return _excerpt(text, start, end, left, right)
    reach = width // 3
    newline = text.rfind("\n", max(0, start - reach), start)
    left = newline + 1 if newline != -1 else max(0, start - reach)
    right = min(len(text), max(end, start + 1) + reach, left + width)
    newline = text.find("\n", start, right)
    if newline != -1:
        right = newline
    return _excerpt(text, start, end, left, max(right, start))


def _excerpt(text: str, start: int, end: int, left: int, right: int) -> str:
    prefix = "..." if left > 0 and text[left - 1] != "\n" else ""
    suffix = "..." if right < len(text) and text[right] != "\n" else ""
    before = text[left:start]  # blanked, tabs kept, so that the carets line up under a tab-indented span
    pad = " " * len(prefix) + ("".join("\t" if ch == "\t" else " " for ch in before) if "\t" in before
                               else " " * len(before))
    carets = max(1, min(end, right) - start)
    return f"{prefix}{text[left:right]}{suffix}\n{pad}{'^' * carets}"
