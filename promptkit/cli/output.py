"""Lint output formats: human text with carets, JSON, SARIF 2.1.0, GitHub workflow annotations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Sequence

import click

if TYPE_CHECKING:
    from ..linter import Diagnostic, LintReport
    from .inputs import PromptInput

_COLORS = {"error": "red", "warning": "yellow", "info": "cyan"}


SUGGESTION_WIDTH = 120


def line_of(item: "PromptInput", d: "Diagnostic") -> int:
    """The finding's line in the file it came from (``--lines``: each prompt starts on its own line)."""
    return d.line + item.first_line - 1


def _short(text: str, width: int = SUGGESTION_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def text_report_lines(pairs: Sequence[tuple["PromptInput", "LintReport"]], color: bool) -> Iterator[str]:
    """The human report, one finding at a time (ruff style: location, code, message, a window of the line)."""
    for item, report in pairs:
        for d in report.diagnostics:
            sev = click.style(d.severity.value, fg=_COLORS[d.severity.value], bold=True) if color else d.severity.value
            code = click.style(d.code, bold=True) if color else d.code
            where = f"{item.label}:{line_of(item, d)}:{d.column}"
            loc = click.style(where, bold=True) if color else where
            lines = [f"{loc}: {code} {sev} {d.message}"]
            excerpt = d.excerpt(report.text) if report.text else ""
            for row in excerpt.split("\n"):
                carets = color and row.strip() and set(row.strip()) <= {"^"}
                lines.append("  | " + (click.style(row, fg=_COLORS[d.severity.value]) if carets else row))
            for s in d.suggestions[:3]:
                lines.append(f"  = suggestion: {_short(s)}")
            if d.fix is not None:
                lines.append(f"  = fix ({'safe' if d.fix.safe else 'unsafe'}): {_short(d.fix.description)}")
            yield "\n".join(lines)
        for code, count in _omitted_by_code(report):
            yield f"{item.label}: ... and {count:,} more {code} findings on this prompt (use --no-cap)"


def _omitted_by_code(report: "LintReport") -> list[tuple[str, int]]:
    by_code: dict[str, int] = {}
    for (code, _), count in report.omitted.items():
        by_code[code] = by_code.get(code, 0) + count
    return sorted(by_code.items())


def text_report(pairs: Sequence[tuple["PromptInput", "LintReport"]], color: bool) -> str:
    return "\n".join(text_report_lines(pairs, color))


_SEVERITIES = ("error", "warning", "info")


@dataclass
class Tally:
    """What the summary line and the exit code need, added up over prompts (no report is kept)."""

    prompts: int = 0
    counts: dict = field(default_factory=lambda: dict.fromkeys(_SEVERITIES, 0))
    safe: int = 0
    unsafe: int = 0
    shown: int = 0
    worst: int = -1  # the highest severity rank found, shown or omitted

    def add(self, report: "LintReport") -> None:
        from ..linter import Severity

        self.prompts += 1
        for d in report.diagnostics:
            self.counts[d.severity.value] += 1
            self.worst = max(self.worst, d.severity.rank)
            if d.fix is not None:
                self.safe += d.fix.safe
                self.unsafe += not d.fix.safe
        for (_, severity), count in report.omitted.items():
            self.counts[severity] += count
            self.worst = max(self.worst, Severity(severity).rank)
        self.shown += len(report.diagnostics)

    def merge(self, other: "Tally") -> None:
        self.prompts += other.prompts
        for k in _SEVERITIES:
            self.counts[k] += other.counts[k]
        self.safe += other.safe
        self.unsafe += other.unsafe
        self.shown += other.shown
        self.worst = max(self.worst, other.worst)


def summary(pairs: Sequence[tuple["PromptInput", "LintReport"]], fixed: int = 0) -> str:
    tally = Tally()
    for _, report in pairs:
        tally.add(report)
    return summary_of(tally, fixed)


def summary_of(tally: Tally, fixed: int = 0) -> str:
    counts, safe, unsafe = tally.counts, tally.safe, tally.unsafe
    total = sum(counts.values())
    if not total:
        text = f"All clean: {tally.prompts} prompt(s) checked."
    else:
        text = (f"Found {total} finding(s) in {tally.prompts} prompt(s): {counts['error']} error(s), "
                f"{counts['warning']} warning(s), {counts['info']} info.")
        if tally.shown < total:
            text += f" {tally.shown} shown (--no-cap shows all)."
        if safe:
            text += f" {safe} fixable with --fix."
        if unsafe:
            text += f" {unsafe} more with --fix --unsafe-fixes."
    if fixed:
        text += f" Fixed {fixed}."
    return text


def json_report(pairs: Sequence[tuple["PromptInput", "LintReport"]]) -> str:
    return "".join(json_chunks(pairs))


class _Lazy(list):
    """A list for ``json``'s (pure Python, indented) encoder that makes its items one at a time: a caption with
    hundreds of thousands of findings is written without holding them all as dicts."""

    def __init__(self, count: int, make) -> None:
        super().__init__()
        self._count, self._make = count, make

    def __bool__(self) -> bool:
        return self._count > 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self):
        return iter(self._make())


def omitted_rows(omitted):
    from ..linter.engine import omitted_rows as rows

    return rows(omitted)


def json_chunks(pairs: Sequence[tuple["PromptInput", "LintReport"]]):
    """The JSON report (as :func:`json.dumps` with ``indent=2`` writes it) in pieces, to stream to a file."""

    def rows(item, report):
        for d in report.diagnostics:
            row = d.to_dict()
            if item.first_line != 1:
                row["line"] = line_of(item, d)
            yield row

    out = []
    for item, report in pairs:
        data = {"source": item.label, "negative": item.negative, "first_line": item.first_line,
                "text": report.text, "profile": report.profile, "dialect": report.dialect}
        data["negative"] = report.negative  # the keys in LintReport.to_dict's order, as before
        data["profile_reason"] = item.profile_reason  # why this profile: --profile, the infotext, config, tags
        data["diagnostics"] = _Lazy(len(report.diagnostics), lambda i=item, r=report: rows(i, r))
        data["omitted"] = omitted_rows(report.omitted)  # counted above the per-rule cap (--no-cap: none)
        out.append(data)
    return json.JSONEncoder(ensure_ascii=False, indent=2).iterencode(out)


class JsonArrayWriter:
    """Writes a JSON array to stdout one element at a time, byte for byte as ``json.dumps(items,
    ensure_ascii=False, indent=2)`` and a newline would: a run over a million files keeps none of them."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, value) -> None:
        self.add_encoded(element_json(value))

    def add_encoded(self, text: str) -> None:
        """An element already encoded by :func:`element_json` (e.g. in a worker process)."""
        click.echo(("[\n" if not self.count else ",\n") + text, nl=False)
        self.count += 1

    def close(self) -> None:
        click.echo("\n]" if self.count else "[]")


def element_json(value) -> str:
    """One element of an indented JSON array, as it stands inside the array (indented one level)."""
    return json.dumps([value], ensure_ascii=False, indent=2)[2:-2]


def github_report(pairs: Sequence[tuple["PromptInput", "LintReport"]]) -> str:
    out = []
    level = {"error": "error", "warning": "warning", "info": "notice"}
    for item, report in pairs:
        for d in report.diagnostics:
            path = item.path or (item.label if item.first_line != 1 or not item.label.startswith("<") else None)
            where = f"file={path},line={line_of(item, d)},col={d.column}," if path else ""
            message = d.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            out.append(f"::{level[d.severity.value]} {where}title={d.code} {d.name}::{message}")
        for code, count in _omitted_by_code(report):
            out.append(f"::notice title={code}::{count} more {code} findings in {item.label} (use --no-cap)")
    return "\n".join(out)


def sarif_report(pairs: Sequence[tuple["PromptInput", "LintReport"]]) -> str:
    from .. import __version__
    from ..linter import all_rules

    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    results = []
    for item, report in pairs:
        for d in report.diagnostics:
            end_line, end_col = _end(report.text, d)
            location = {"physicalLocation": {
                "artifactLocation": {"uri": str(item.path) if item.path else item.label},
                "region": {"startLine": line_of(item, d), "startColumn": d.column,
                           "endLine": end_line + item.first_line - 1, "endColumn": end_col,
                           "charOffset": d.start, "charLength": max(0, d.end - d.start)},
            }}
            result = {"ruleId": d.code, "ruleIndex": index[d.code],  # every rule is listed, opt-in ones too
                      "level": {"error": "error", "warning": "warning", "info": "note"}[d.severity.value],
                      "message": {"text": d.message}, "locations": [location]}
            if d.fix is not None:
                result["fixes"] = [{"description": {"text": d.fix.description}, "artifactChanges": [{
                    "artifactLocation": location["physicalLocation"]["artifactLocation"],
                    "replacements": [{"deletedRegion": {"charOffset": e.start, "charLength": e.end - e.start},
                                      "insertedContent": {"text": e.replacement}} for e in d.fix.edits]}]}]
            results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "promptkit", "version": __version__, "informationUri": "https://pypi.org/project/promptkit/",
                "rules": [{"id": r.code, "name": r.name, "shortDescription": {"text": r.summary()},
                           "fullDescription": {"text": r.docs()},
                           "defaultConfiguration": {"level": {"error": "error", "warning": "warning",
                                                              "info": "note"}[r.severity.value]},
                           "properties": {"category": r.category, "fix": r.fix_safety}} for r in rules],
            }},
            "results": results,
            "properties": {"omitted": [{"source": str(item.path or item.label), **row}
                                       for item, report in pairs for row in omitted_rows(report.omitted)]},
        }],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def _end(text: str, d: "Diagnostic") -> tuple[int, int]:
    """Line and column where the span ends, counted from its start (linear in the span only)."""
    end = max(d.start, d.end)
    newlines = text.count("\n", d.start, end)
    if not newlines:
        return d.line, d.column + (end - d.start)
    return d.line + newlines, end - text.rfind("\n", d.start, end)
