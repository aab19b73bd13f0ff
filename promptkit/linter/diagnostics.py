"""What the linter reports: diagnostics with spans, suggestions and fixes (marked safe or unsafe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..syntax.errors import caret_excerpt, line_col


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` with ``replacement``."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class Fix:
    """Edits that resolve a finding. A safe fix keeps every tag and its weight; an unsafe one may not."""

    description: str
    edits: tuple[Edit, ...]
    safe: bool

    def to_dict(self) -> dict:
        return {"description": self.description, "safe": self.safe,
                "edits": [{"start": e.start, "end": e.end, "replacement": e.replacement} for e in self.edits]}


@dataclass
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

    def excerpt(self, text: str) -> str:
        return caret_excerpt(text, self.start, self.end)

    def to_dict(self) -> dict:
        return {
            "code": self.code, "name": self.name, "severity": self.severity.value, "message": self.message,
            "start": self.start, "end": self.end, "line": self.line, "column": self.column,
            "suggestions": list(self.suggestions), "fix": self.fix.to_dict() if self.fix else None,
        }


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (later ones first so offsets stay valid)."""
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[:edit.start] + edit.replacement + text[edit.end:]
    return text
