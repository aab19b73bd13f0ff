"""Tag sources: the CSV files a tag database is compiled from, and their readers.

A source is one site's vocabulary (Danbooru, e621, the WD tagger, or a user's own list): a tag list plus
optional alias and implication lists. Readers validate as they go and report problems with file and line;
the known defects of the shipped data (the e621 row with an empty name) are skipped with a warning.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import warnings
import zlib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Iterator

from .._files import open_regular
from .._resources import tag_db_path


class TagCategory(str, Enum):
    """What kind of thing a tag names. Each site numbers these its own way (see ``CATEGORY_IDS``)."""

    GENERAL = "general"
    ARTIST = "artist"
    CONTRIBUTOR = "contributor"
    COPYRIGHT = "copyright"
    CHARACTER = "character"
    META = "meta"
    SPECIES = "species"
    INVALID = "invalid"
    LORE = "lore"
    RATING = "rating"
    UNKNOWN = "unknown"


CATEGORY_IDS: dict[str, dict[int, TagCategory]] = {
    "danbooru": {0: TagCategory.GENERAL, 1: TagCategory.ARTIST, 3: TagCategory.COPYRIGHT,
                 4: TagCategory.CHARACTER, 5: TagCategory.META},
    "e621": {0: TagCategory.GENERAL, 1: TagCategory.ARTIST, 2: TagCategory.CONTRIBUTOR, 3: TagCategory.COPYRIGHT,
             4: TagCategory.CHARACTER, 5: TagCategory.SPECIES, 6: TagCategory.INVALID, 7: TagCategory.META,
             8: TagCategory.LORE},
    "wd14": {0: TagCategory.GENERAL, 4: TagCategory.CHARACTER, 9: TagCategory.RATING},
}
# User lists follow Danbooru's numbering, plus 9 for ratings.
CATEGORY_IDS["user"] = {**CATEGORY_IDS["danbooru"], 9: TagCategory.RATING}
CATEGORY_BY_NAME = {c.value: c for c in TagCategory}


class TagDataError(ValueError):
    """A tag file that cannot be read: names the file, the line and the problem."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")


@dataclass(frozen=True)
class TagSource:
    """One vocabulary: a tag list and optional alias/implication lists.

    ``format`` is ``booru`` (``name,category,post_count,"aliases"``, no header), ``wd14``
    (``tag_id,name,category,count`` with header) or ``simple`` (``name[,category]``, category as a number or
    a name such as ``artist``). ``categories`` names the numbering scheme (``danbooru``, ``e621``, ``wd14``,
    ``user``).
    """

    name: str
    tags: Path
    format: str = "booru"
    categories: str = "user"
    aliases: Path | None = None
    implications: Path | None = None
    extra: tuple[Path, ...] = field(default_factory=tuple)

    def files(self) -> list[Path]:
        return [p for p in (self.tags, self.aliases, self.implications, *self.extra) if p is not None]


def bundled_sources() -> dict[str, TagSource]:
    """The sources shipped in ``tag_db/``."""
    return {
        "danbooru": TagSource(
            "danbooru", tag_db_path("danbooru_tags_2025-05-01.csv.gz"), "booru", "danbooru",
            tag_db_path("danbooru_tag_aliases_active_2025-05-01.csv.gz"),
            tag_db_path("danbooru_tag_implications_active_2025-05-01.csv.gz"),
        ),
        "e621": TagSource(
            "e621", tag_db_path("e621_tags_2026-04-01.csv.gz"), "booru", "e621",
            tag_db_path("e621_tag_aliases_active_2025-05-01.csv.gz"),
            tag_db_path("e621_tag_implications_active_2025-05-01.csv.gz"),
        ),
        "wd14": TagSource("wd14", tag_db_path("wd14_v3_selected_tags.csv.gz"), "wd14", "wd14"),
    }


def user_source(path: str | Path, name: str | None = None) -> TagSource:
    """A user's own CSV: the 4-column booru format or a simple ``name[,category]`` list (detected)."""
    path = Path(path)
    fmt = "simple"
    for _line, row in _rows(path):
        if any(cell.strip() for cell in row):
            if len(row) >= 3 and row[2].strip().isdigit():
                fmt = "booru"
            break
    return TagSource(name or path.stem, path, fmt, "user")


MAX_LINE = 1 << 20  # characters; a longer line is no tag list (csv's own field limit is 131,072)


def _open_text(path: Path) -> io.TextIOBase:
    """The file as text: UTF-8, a BOM removed, gzip-compressed when it ends in ``.gz``."""
    if not path.exists():
        raise TagDataError(path, 0, "file not found")
    if path.is_dir():
        raise TagDataError(path, 0, "is a folder, not a CSV file")
    try:
        raw = os.fdopen(open_regular(path), "rb")  # a FIFO or device named as a source would never end
        if path.suffix == ".gz":
            return io.TextIOWrapper(_OwningGzipFile(raw), encoding="utf-8-sig", newline="")
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise TagDataError(path, 0, f"cannot read: {exc.strerror or exc}") from None


class _OwningGzipFile(gzip.GzipFile):
    """A gzip reader that closes the file it was given (GzipFile leaves a passed-in file open)."""

    def __init__(self, raw) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, row) of a CSV file; every problem is a :class:`TagDataError` naming file and line."""
    with _open_text(path) as fh:
        def lines() -> Iterator[str]:
            while True:
                line = fh.readline(MAX_LINE)
                if not line:
                    return
                if len(line) >= MAX_LINE and not line.endswith(("\n", "\r")):
                    raise TagDataError(path, reader.line_num + 1, f"line longer than {MAX_LINE:,} characters")
                yield line

        reader = csv.reader(lines())
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            problem = str(exc)
            if "field limit" in problem:
                problem = f"a field longer than {csv.field_size_limit():,} characters"
            raise TagDataError(path, reader.line_num, f"not a readable CSV row ({problem})") from None
        except UnicodeDecodeError:
            line, column = _first_bad_byte(path)
            raise TagDataError(path, line, f"not UTF-8 (byte {column} of the line)") from None
        except (OSError, EOFError, zlib.error) as exc:
            raise TagDataError(path, reader.line_num, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def _first_bad_byte(path: Path) -> tuple[int, int]:
    """(line, byte column), both from 1, of the first byte that is not UTF-8."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        decoder = codecs.getincrementaldecoder("utf-8")()
        for number, raw in enumerate(fh, 1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError as exc:
                return number, exc.start + 1
    return 0, 0


def read_tags(source: TagSource, skipped: list[int] | None = None) -> Iterator[tuple[str, int, int, list[str]]]:
    """Yield ``(name, category_id, post_count, alias_spellings)`` for every row of a tag list.

    A row with an empty name (e621's list has one) is skipped: its line number goes into ``skipped`` when
    given (the compiled store records them), else a warning says so."""
    path = source.tags
    for line, row in _rows(path):
        if source.format == "wd14" and line == 1 and row and row[0] == "tag_id":
            continue
        if not row or not any(cell.strip() for cell in row):
            continue
        if source.format == "wd14":
            if len(row) < 4:
                raise TagDataError(path, line, f"expected 4 columns (tag_id,name,category,count), got {len(row)}")
            name, cat, count, aliases = row[1], row[2], row[3], ""
        elif source.format == "booru":
            if len(row) < 3:
                raise TagDataError(path, line, f"expected name,category,post_count[,aliases], got {len(row)} columns")
            name, cat, count = row[0], row[1], row[2]
            aliases = row[3] if len(row) > 3 else ""
        else:
            name = row[0]
            cat = row[1] if len(row) > 1 else "0"
            count, aliases = "0", ""
        name = name.strip()
        if not name:
            if skipped is not None:
                skipped.append(line)
            else:
                warnings.warn(f"{path}:{line}: skipped a row with an empty tag name", stacklevel=2)
            continue
        try:
            category = _category_id(cat, source.categories)
        except ValueError:
            raise TagDataError(path, line, f"category {cat!r} is neither a number nor a category name") from None
        try:
            post_count = int(count) if count.strip() else 0
        except ValueError:
            raise TagDataError(path, line, f"post count {count!r} is not a whole number") from None
        yield name, category, post_count, [a for a in aliases.split(",") if a]


def _category_id(text: str, scheme: str) -> int:
    text = text.strip()
    if not text:
        return 0
    if text.lstrip("-").isdigit():
        return int(text)
    wanted = CATEGORY_BY_NAME.get(text.lower())
    if wanted is None:
        raise ValueError(text)
    for cid, cat in CATEGORY_IDS[scheme].items():
        if cat is wanted:
            return cid
    raise ValueError(text)


def read_pairs(path: Path) -> Iterator[tuple[str, str]]:
    """Yield ``(antecedent, consequent)`` pairs from an alias or implication list (header skipped)."""
    for line, row in _rows(path):
        if line == 1 and row and row[0] == "antecedent_name":
            continue
        if not row:
            continue
        if len(row) != 2 or not row[0] or not row[1]:
            raise TagDataError(path, line, f"expected antecedent,consequent, got {row!r}")
        yield row[0], row[1]
