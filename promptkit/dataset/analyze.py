"""Dataset lint and statistics over captions.

Lint goes through the prompt linter (``promptkit.linter``) itself, so ``promptkit dataset lint`` and
``promptkit lint`` give the same findings for the same caption and profile. Statistics need only each tag's
database answer, cached per tag.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from ..syntax.normalize import KAOMOJI, lookup_key
from .normalize import RATINGS, SPLIT_TAGS

if TYPE_CHECKING:
    from ..tags import TagDB



@dataclass(frozen=True)
class Finding:
    """One lint finding of a caption (a :class:`~promptkit.linter.Diagnostic`, flattened for files and JSON)."""

    code: str
    tag: str
    message: str
    suggestion: str | None = None
    severity: str = "warning"
    line: int = 1
    column: int = 1


class CaptionAnalyzer:
    """Finds unknown, alias, duplicate and implied tags and count conflicts in captions."""

    def __init__(self, db: "TagDB", profile: str | None = None, suggest: bool = True,
                 select: list[str] | None = None, ignore: list[str] | None = None) -> None:
        self.db = db
        self.profile = profile
        self.suggest = suggest
        self.select, self.ignore = select, ignore
        self.vocabulary: frozenset[str] = frozenset()
        if profile:
            from ..profiles import load_profile

            self.vocabulary = load_profile(profile).vocabulary
        self._info: dict[str, tuple[str, str, str | None]] = {}  # key -> (canonical, category, how)
        self._suggestion: dict[str, str | None] = {}

    def tag_info(self, key: str) -> tuple[str, str, str | None]:
        """(canonical name, category, 'alias'/'exact'/None) of a normalized tag, cached."""
        cached = self._info.get(key)
        if cached is None:
            info = None if key in RATINGS else self.db.lookup(key)
            if info is None:
                known = key in self.vocabulary or key in KAOMOJI or key in RATINGS
                category = "rating" if key in RATINGS else ("special" if known else "unknown")
                cached = (key, category, "exact" if known else None)
            else:
                cached = (info.name, info.category.value, info.matched)
            self._info[key] = cached
        return cached

    def suggestion(self, key: str) -> str | None:
        if key not in self._suggestion:
            found = self.db.suggest(key, limit=1) if self.suggest else []
            self._suggestion[key] = found[0].name if found and (found[0].score or 0) >= 80 else None
        return self._suggestion[key]

    def keys(self, caption: str) -> list[str]:
        return [lookup_key(t) for t in SPLIT_TAGS.split(caption.strip()) if t]

    def tag_rows(self, caption: str) -> list[tuple[str, str, str, bool]]:
        """(key, canonical name, category, unknown?) for each tag of a caption."""
        rows = []
        for key in self.keys(caption):
            name, category, how = self.tag_info(key)
            rows.append((key, name, category, how is None))
        return rows

    def lint(self, caption: str) -> list[Finding]:
        """The prompt linter's findings for one caption, with this analyzer's profile and database."""
        from ..linter import lint_prompt

        ignore = self.ignore
        if not self.suggest:  # the spelling rules are the slow ones
            ignore = list(ignore or ()) + ["PK201", "PK215"]
        report = lint_prompt(caption, self.profile or _default_profile(), None, self.db, self.select, ignore)
        return [Finding(d.code, caption[d.start:d.end], d.message, d.suggestions[0] if d.suggestions else None,
                        d.severity.value, d.line, d.column) for d in report.diagnostics]


def _default_profile() -> str:
    from ..profiles.detect import FALLBACK

    return FALLBACK


@dataclass
class DatasetStats:
    """Counts over a dataset: tags, categories, unknown tags, tags per caption, unreadable files."""

    captions: int = 0
    tags: Counter = field(default_factory=Counter)
    categories: Counter = field(default_factory=Counter)
    unknown: Counter = field(default_factory=Counter)
    per_caption: Counter = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add(self, analyzer: CaptionAnalyzer, caption: str) -> None:
        self.add_tags(analyzer.tag_rows(caption))

    def add_tags(self, tags: list[tuple[str, str, str, bool]]) -> None:
        """Count one caption given as (key, canonical name, category, unknown) per tag."""
        self.captions += 1
        self.per_caption[len(tags)] += 1
        for key, name, category, unknown in tags:
            self.tags[name] += 1
            self.categories[category] += 1
            if unknown:
                self.unknown[key] += 1

    def merge(self, other: "DatasetStats") -> None:
        self.captions += other.captions
        for mine, theirs in ((self.tags, other.tags), (self.categories, other.categories),
                             (self.unknown, other.unknown), (self.per_caption, other.per_caption)):
            mine.update(theirs)
        self.errors.extend(other.errors)

    @property
    def mean_tags(self) -> float:
        total = sum(n * c for n, c in self.per_caption.items())
        return total / self.captions if self.captions else 0.0

    def to_dict(self, analyzer: CaptionAnalyzer | None = None, top: int = 50) -> dict:
        return {
            "captions": self.captions, "distinct_tags": len(self.tags), "mean_tags_per_caption": self.mean_tags,
            "categories": dict(self.categories.most_common()), "top_tags": self.tags.most_common(top),
            "unknown": [(t, c, analyzer.suggestion(t) if analyzer else None) for t, c in self.unknown.most_common(top)],
            "tags_per_caption": dict(sorted(self.per_caption.items())), "errors": self.errors,
        }

    def to_html(self, analyzer: CaptionAnalyzer | None = None, title: str = "promptkit dataset report") -> str:
        """A self-contained HTML page with bar charts (inline SVG, no scripts, no network)."""
        data = self.to_dict(analyzer)
        esc = html.escape
        parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>"
                 "body{font:14px system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}"
                 "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}"
                 ".n{text-align:right;font-variant-numeric:tabular-nums}</style></head><body>",
                 f"<h1>{esc(title)}</h1>",
                 f"<p>{data['captions']:,} captions, {data['distinct_tags']:,} distinct tags, "
                 f"{data['mean_tags_per_caption']:.1f} tags per caption, {len(self.unknown):,} unknown tags, "
                 f"{len(self.errors)} unreadable files.</p>"]
        parts.append("<h2>Tags by category</h2>" + _bars(list(data["categories"].items())))
        parts.append("<h2>Most frequent tags</h2>" + _bars(data["top_tags"][:40]))
        parts.append("<h2>Tags per caption</h2>" + _bars([(str(k), v) for k, v in data["tags_per_caption"].items()],
                                                         vertical=True))
        if data["unknown"]:
            rows = "".join(f"<tr><td>{esc(t)}</td><td class=n>{c:,}</td><td>{esc(s or '')}</td></tr>"
                           for t, c, s in data["unknown"])
            parts.append(f"<h2>Unknown tags</h2><table><tr><th>tag</th><th>captions</th><th>did you mean</th></tr>"
                         f"{rows}</table>")
        if self.errors:
            rows = "".join(f"<tr><td>{esc(p)}</td><td>{esc(e)}</td></tr>" for p, e in self.errors[:200])
            parts.append(f"<h2>Unreadable files</h2><table>{rows}</table>")
        parts.append("</body></html>")
        return "\n".join(parts)


def _bars(items: list[tuple[str, int]], vertical: bool = False) -> str:
    if not items:
        return "<p>(none)</p>"
    peak = max(v for _, v in items) or 1
    if vertical:
        width, height = max(300, 18 * len(items)), 160
        bar = width / len(items)
        rects = "".join(
            f"<rect x='{i * bar:.1f}' y='{height - 20 - (v / peak) * (height - 30):.1f}' width='{bar * 0.8:.1f}' "
            f"height='{(v / peak) * (height - 30):.1f}' fill='#4a7bd0'><title>{html.escape(k)}: {v:,}</title></rect>"
            f"<text x='{i * bar + bar * 0.4:.1f}' y='{height - 5}' font-size='10' text-anchor='middle'>{html.escape(k)}</text>"
            for i, (k, v) in enumerate(items))
        return f"<svg width='{width}' height='{height}' role='img'>{rects}</svg>"
    row = 18
    height = row * len(items)
    rects = "".join(
        f"<text x='0' y='{i * row + 13}' font-size='12'>{html.escape(k)}</text>"
        f"<rect x='220' y='{i * row + 3}' width='{(v / peak) * 400:.1f}' height='{row - 6}' fill='#4a7bd0'/>"
        f"<text x='{226 + (v / peak) * 400:.1f}' y='{i * row + 13}' font-size='11'>{v:,}</text>"
        for i, (k, v) in enumerate(items))
    return f"<svg width='720' height='{height}' role='img'>{rects}</svg>"


def analyze_captions(captions: Iterable[str], db: "TagDB", profile: str | None = None) -> DatasetStats:
    """Statistics for an iterable of captions (the Python API behind ``promptkit dataset stats``)."""
    analyzer = CaptionAnalyzer(db, profile)
    stats = DatasetStats()
    for caption in captions:
        stats.add(analyzer, caption)
    return stats


def lint_captions(captions: Iterable[str], db: "TagDB", profile: str | None = None) -> list[list[Finding]]:
    """Findings per caption (the Python API behind ``promptkit dataset lint``)."""
    analyzer = CaptionAnalyzer(db, profile)
    return [analyzer.lint(c) for c in captions]


class AnalyzeJob:
    """Builds, inside each worker process, the per-file lint or statistics function (picklable)."""

    def __init__(self, mode: str, profile: str | None = None, suggest: bool = True,
                 sources: list[str] | None = None, select: list[str] | None = None,
                 ignore: list[str] | None = None) -> None:
        self.mode, self.profile, self.suggest, self.sources = mode, profile, suggest, sources
        self.select, self.ignore = select, ignore

    def __call__(self):
        from pathlib import Path

        from ..tags import TagDB, default_db
        from .files import read_caption, read_caption_body

        if self.sources:
            db = TagDB.from_names(self.sources)
        elif self.mode == "lint":  # the profile's own tag sources, as the linter uses them
            db = TagDB.for_profile(self.profile or _default_profile())
        else:
            db = TagDB.for_profile(self.profile) if self.profile else default_db()
        analyzer = CaptionAnalyzer(db, self.profile, suggest=self.suggest, select=self.select, ignore=self.ignore)

        def lint_file(path: Path) -> tuple[str, str | None, list[Finding]]:
            body, error = read_caption_body(path)  # as `promptkit lint FILE` reads it: without its last newline
            return str(path), error, (analyzer.lint(body) if body is not None else [])

        def stats_file(path: Path) -> tuple[str, str | None, list[tuple[str, str, bool]]]:
            text, error = read_caption(path)
            if text is None:
                return str(path), error, []
            return str(path), None, analyzer.tag_rows(text)

        return lint_file if self.mode == "lint" else stats_file
