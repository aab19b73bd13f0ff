"""Offsets and positions: Python indexes code points, editors count UTF-16 units (LSP's default, JavaScript).

Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` as the LSP specification says (not at the other characters
``str.splitlines`` breaks on: a binary document must keep the same line numbers on both sides). Every
conversion is a binary search plus work on one line, so a document of a megabyte costs the same per
position as a short one.
"""

from __future__ import annotations

import bisect
import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def units(text: str, encoding: str = "utf-16") -> int:
    """Length of ``text`` in the encoding's code units (lone surrogates count one UTF-16 unit)."""
    if encoding == "utf-32" or text.isascii():
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _position_in_line(line: str, count: int, encoding: str) -> int:
    """The code point index in ``line`` after ``count`` code units (clamped to the line)."""
    if encoding == "utf-32" or line.isascii():
        return min(count, len(line))
    seen = 0
    for i, ch in enumerate(line):
        if seen >= count:
            return i
        seen += units(ch, encoding)
    return len(line)


class LineIndex:
    """Line starts of a text, for offset <-> (line, character) in an editor's encoding."""

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.encoding = encoding
        self.starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]

    def _line_end(self, line: int) -> int:
        """End of ``line``'s content (before its line break)."""
        if line + 1 < len(self.starts):
            end = self.starts[line + 1] - 1
            if end > self.starts[line] and self.text[end] == "\n" and self.text[end - 1] == "\r":
                end -= 1
            return end
        return len(self.text)

    def position(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        offset = min(offset, self._line_end(line))  # inside a \r\n: the end of the line
        return line, units(self.text[start:offset], self.encoding)

    def offset(self, line: int, character: int) -> int:
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start, end = self.starts[line], self._line_end(line)
        return start + _position_in_line(self.text[start:end], max(0, character), self.encoding)


class Utf16Offsets:
    """Whole-text offsets between code points and UTF-16 units (what a browser's string index counts)."""

    def __init__(self, text: str) -> None:
        self.astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF] if not text.isascii() else []
        self.astral_units = [p + k for k, p in enumerate(self.astral)]  # the UTF-16 offset of each
        self.length = len(text)

    def to_units(self, offset: int) -> int:
        return offset + bisect.bisect_left(self.astral, offset) if self.astral else offset

    def from_units(self, unit: int) -> int:
        if not self.astral:
            return max(0, min(unit, self.length))
        before = bisect.bisect_left(self.astral_units, unit)  # astral characters wholly before `unit`
        return max(0, min(unit - before, self.length))
