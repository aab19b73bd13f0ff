"""Errors for people: where, what, and what to do about it."""

from __future__ import annotations


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    line_start = text.rfind("\n", 0, offset) + 1
    return line, offset - line_start + 1


def caret_excerpt(text: str, start: int, end: int | None = None) -> str:
    """The source line holding ``start`` with carets under ``start:end`` (clipped to that line)."""
    start = max(0, min(start, len(text)))
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    if line_end == -1:
        line_end = len(text)
    end = start + 1 if end is None or end <= start else min(end, line_end)
    source_line = text[line_start:line_end]
    pad = "".join("\t" if ch == "\t" else " " for ch in source_line[: start - line_start])
    width = max(1, end - start)
    return f"{source_line}\n{pad}{'^' * width}"


class PromptSyntaxError(ValueError):
    """A prompt that does not parse in strict mode.

    Carries ``line``/``column`` (1-based), the character ``offset``, the ``source`` line with a caret under the
    spot, and a ``hint`` saying how to fix it.
    """

    def __init__(self, message: str, text: str, offset: int, hint: str = "", end: int | None = None) -> None:
        self.message = message
        self.text = text
        self.offset = offset
        self.line, self.column = line_col(text, offset)
        self.excerpt = caret_excerpt(text, offset, end)
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        out = f"{self.message} (line {self.line}, column {self.column})\n{self.excerpt}"
        if self.hint:
            out += f"\nhint: {self.hint}"
        return out


class ConversionError(ValueError):
    """A prompt uses something the target dialect cannot express (e.g. scheduling in ComfyUI)."""
