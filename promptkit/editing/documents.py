"""Documents people write prompts in, cut into the prompts they hold, and the settings that apply to them.

A document is one of:

- ``prompt``: the whole file is one prompt (``.prompt`` files, caption ``.txt``/``.caption`` files, where
  the lines of a caption are its tags, as ``promptkit lint`` reads a caption file);
- ``lines``: every non-empty line is its own prompt (A1111's "Prompts from file", sd-dynamic-prompts wildcard
  files under a ``wildcards/`` folder, whose ``#`` lines are comments);
- ``styles``: an A1111 ``styles.csv``: the ``prompt`` cell of each row is a prompt, the ``negative_prompt``
  cell a negative prompt (quoted cells unquoted, spans mapped back through the quotes).

Which profile and dialect apply, first found wins: a directive on the first line
(``# promptkit: profile=kivotos-xl-2 dialect=a1111 negative lines``), the project's ``promptkit.toml`` /
``[tool.promptkit]`` (looked up from the document's folder), the editor's settings, the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["auto", "prompt", "lines", "styles"]

DIRECTIVE = re.compile(r"^#\s*promptkit\s*:(?P<body>[^\n]*)")
_DIRECTIVE_KEYS = ("profile", "dialect", "negative", "mode", "select", "ignore")


class Settings(BaseModel):
    """What a document is linted with. Unset fields fall back to the next source (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    dialect: str | None = None
    negative: bool | None = Field(None, description="the document holds negative prompts")
    mode: Mode = "auto"
    select: list[str] | None = None
    ignore: list[str] | None = None
    embeddings: list[str] = Field(default_factory=list, description="folders of textual-inversion files")
    loras: list[str] = Field(default_factory=list, description="folders of LoRA / LyCORIS files")
    tag_sources: list[str] | None = Field(None, description="replaces the profile's own tag sources")
    debounce_ms: int = Field(150, ge=0, le=5000, description="quiet time before diagnostics after an edit")

    def over(self, base: "Settings") -> "Settings":
        """These settings where set, ``base`` elsewhere (lists of folders add up)."""
        merged = base.model_dump()
        for key, value in self.model_dump(exclude_unset=True).items():
            if key in ("embeddings", "loras"):
                merged[key] = list(dict.fromkeys(list(value) + list(merged[key])))
            elif value is not None and not (key == "mode" and value == "auto"):
                merged[key] = value
        return Settings(**merged)


@dataclass(frozen=True)
class Problem:
    """Something wrong with the document itself (a bad directive, an unknown profile): shown as a finding."""

    start: int
    end: int
    message: str
    code: str = "directive"


def parse_directive(text: str) -> tuple[Settings, list[Problem], int]:
    """Settings from a first-line directive, problems with it, and where the prompt text starts after it."""
    match = DIRECTIVE.match(text)
    if match is None:
        return Settings(), [], 0
    end = match.end()
    found: dict = {}
    problems: list[Problem] = []
    for word in re.finditer(r"\S+", match.group("body")):
        start = match.start("body") + word.start()
        key, _, value = word.group().partition("=")
        key = key.lower()
        if key in ("negative", "lines", "styles", "prompt") and not value:
            if key == "negative":
                found["negative"] = True
            else:
                found["mode"] = key
            continue
        if key not in _DIRECTIVE_KEYS or not value:
            problems.append(Problem(start, start + len(word.group()),
                                    f"unknown directive {word.group()!r}; use "
                                    "profile=ID dialect=NAME negative lines|styles|prompt select=CODES ignore=CODES"))
        elif key == "negative":
            found["negative"] = value.lower() in ("1", "true", "yes", "on")
        elif key == "mode":
            if value not in ("prompt", "lines", "styles"):
                problems.append(Problem(start, start + len(word.group()), f"unknown mode {value!r}"))
            else:
                found["mode"] = value
        elif key in ("select", "ignore"):
            found[key] = [c for c in value.split(",") if c]
        else:
            found[key] = value
    body_start = end + 1 if text[end:end + 1] == "\n" else end
    return Settings(**found), problems, body_start


def document_mode(path: str | None, settings: Settings) -> str:
    """``prompt``, ``lines`` or ``styles`` for a document (see the module docstring)."""
    if settings.mode != "auto":
        return settings.mode
    if path:
        p = PurePath(path)
        name = p.name.lower()
        if name.endswith(".csv") and "style" in name:
            return "styles"
        if p.suffix.lower() == ".txt" and any(part.lower() == "wildcards" for part in p.parts[:-1]):
            return "lines"
    return "prompt"


@dataclass
class Segment:
    """One prompt of a document: its text as the model reads it and where each character sits in the file.

    ``offsets`` is None when the text is a plain slice of the file starting at ``start``; inside a quoted
    CSV cell with ``""`` escapes it maps every text position (and the end) to a file offset.
    """

    start: int
    text: str
    negative: bool = False
    offsets: list[int] | None = None
    quoting: str = ""  # "" (plain), "csv" (a quoted CSV cell), "csv-bare" (an unquoted CSV cell)

    @property
    def end(self) -> int:
        return self.to_document(len(self.text))

    def to_document(self, position: int) -> int:
        position = max(0, min(position, len(self.text)))
        return self.start + position if self.offsets is None else self.offsets[position]

    def from_document(self, offset: int) -> int | None:
        """The text position of a file offset inside this segment, or None when it lies outside."""
        if not self.start <= offset <= self.end:
            return None
        if self.offsets is None:
            return offset - self.start
        import bisect

        return bisect.bisect_left(self.offsets, offset)

    def encode(self, replacement: str) -> str | None:
        """A replacement as it must be written in the file, or None when this segment cannot hold it."""
        if self.quoting == "csv":
            return replacement.replace('"', '""')
        if self.quoting == "csv-bare" and any(c in replacement for c in ',"\n\r'):
            return None
        return replacement


def split_document(text: str, mode: str, negative: bool = False, body_start: int = 0) -> list[Segment]:
    """The prompts of a document from ``body_start`` on (after a directive line)."""
    if mode == "lines":
        return list(_lines(text, body_start, negative))
    if mode == "styles":
        return list(_styles(text, body_start))
    return [Segment(body_start, text[body_start:], negative)]


def _lines(text: str, start: int, negative: bool):
    pos = start
    for line in text[start:].split("\n"):
        body = line[:-1] if line.endswith("\r") else line
        if body.strip() and not body.lstrip().startswith("#"):
            yield Segment(pos, body, negative)
        pos += len(line) + 1


def csv_cells(text: str, start: int = 0):
    """Rows of a CSV document as lists of (start, end, quoted) spans of each cell's contents (RFC 4180)."""
    row: list[tuple[int, int, bool]] = []
    i, n = start, len(text)
    while i <= n:
        if i < n and text[i] == '"':
            j = i + 1
            while True:
                q = text.find('"', j)
                if q == -1:  # an unterminated quote runs to the end, as Python's csv reads it
                    q = n
                    break
                if text[q + 1:q + 2] == '"':
                    j = q + 2
                    continue
                break
            row.append((i + 1, q, True))
            i = q + 1
            while i < n and text[i] not in ",\n":  # junk after the closing quote belongs to the cell's end
                i += 1
        else:
            j = i
            while j < n and text[j] not in ",\n":
                j += 1
            end = j - 1 if j > i and text[j - 1] == "\r" else j
            row.append((i, end, False))
            i = j
        if i >= n or text[i] == "\n":
            yield row
            row = []
            if i >= n:
                return
        i += 1


def _styles(text: str, start: int):
    rows = csv_cells(text, start)
    header = next(rows, None)
    if header is None:
        return
    names = [text[s:e].strip().lower() for s, e, _ in header]
    prompt_col = names.index("prompt") if "prompt" in names else 1
    negative_col = names.index("negative_prompt") if "negative_prompt" in names else 2
    for row in rows:
        for col, negative in ((prompt_col, False), (negative_col, True)):
            if col < len(row):
                s, e, quoted = row[col]
                if s < e:
                    yield _cell(text, s, e, quoted, negative)


def _cell(text: str, s: int, e: int, quoted: bool, negative: bool) -> Segment:
    raw = text[s:e]
    if not quoted:
        return Segment(s, raw, negative, quoting="csv-bare")
    if '""' not in raw:
        return Segment(s, raw, negative, quoting="csv")
    chars: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(raw):
        offsets.append(s + i)
        chars.append(raw[i])
        i += 2 if raw.startswith('""', i) else 1
    offsets.append(e)
    return Segment(s, "".join(chars), negative, offsets, "csv")
