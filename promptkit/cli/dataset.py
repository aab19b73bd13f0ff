"""`promptkit dataset lint|normalize|stats`: caption folders."""

from __future__ import annotations

import difflib
import itertools
import json
import sys
from pathlib import Path

import click

from .common import check_codes, fail, load_profile_or_fail, open_db, split_codes, warn
from .output import JsonArrayWriter, element_json
from .progress import progress
from .config import ConfigError, find_config


@click.group()
def dataset() -> None:
    """Lint, normalize and report caption datasets (folders of .txt/.caption sidecars)."""


def _dataset_paths(root: str, extensions: tuple[str, ...]):
    """(paths, count): the caption files under ``root`` as a lazy iterator in sorted order, and a function that
    counts them (called only for a progress bar). No caption file at all is a usage error."""
    from ..dataset.files import count_captions, iter_captions

    exts = tuple(e if e.startswith(".") else f".{e}" for e in extensions)
    if Path(root).is_file() and Path(root).suffix.lower() not in exts:
        fail(f"{root}: not a caption file ({', '.join(exts)}); give a caption file or a folder of them")
    paths = iter_captions(root, extensions)
    first = next(paths, None)
    if first is None:
        fail(f"{root}: no caption files ({', '.join(extensions)})")
    return itertools.chain([first], paths), lambda: count_captions(root, extensions)


_EXT = click.option("--ext", "extensions", multiple=True, default=(".txt", ".caption"), show_default=True,
                    help="Caption file extensions (searched recursively).")
_PROFILE = click.option("-p", "--profile", help="Profile whose tag sources and special tags (quality, rating...) "
                                                 "are used.")


def _config() -> dict:
    try:
        return find_config()[1]
    except ConfigError as exc:
        fail(str(exc))
        raise


def _check_profile(profile: str | None) -> None:
    """An unknown profile is a usage error (exit 2) before any file is read."""
    if profile:
        load_profile_or_fail(profile)


@dataset.command("lint")
@click.argument("root", type=click.Path(exists=True))
@_EXT
@_PROFILE
@click.option("--select", multiple=True, metavar="CODES", help="Only these rule codes (as `promptkit lint --select`).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rule codes or prefixes.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("--no-suggest", is_flag=True, help="Skip the spelling rules PK201 and PK215 (faster).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes, each loading the tag database once. Default: all cores; 1 runs in this "
                   "process. Results are in file order, the same for any number.")
def dataset_lint(root, extensions, profile, select, ignore, fmt, no_suggest, jobs) -> None:
    """Lint every caption file with the same rules, profile and tag sources as `promptkit lint FILE`.

    The profile: --profile, else the config's, else illustrious-xl (Danbooru tags), printed on stderr.
    Exit 1 on findings, 2 when no file could be read.
    """
    from ..dataset.analyze import AnalyzeJob
    from ..dataset.files import map_files
    from ..profiles.detect import FALLBACK

    cfg = _config()
    _check_profile(profile)
    chosen = profile or cfg.get("profile")
    if chosen:
        load_profile_or_fail(chosen)
    if not profile:
        reason = "from the config" if chosen else "no --profile or config said which: the Danbooru-tag default"
        if fmt == "text":
            warn(f"profile {chosen or FALLBACK} ({reason})")
    select = split_codes(select) or cfg.get("select") or None
    ignore = split_codes(ignore) or cfg.get("ignore") or None
    check_codes(select, ignore)
    paths, count = _dataset_paths(root, extensions)
    job = RenderedLint(AnalyzeJob("lint", chosen or FALLBACK, suggest=not no_suggest,
                                  sources=cfg.get("tag-sources"), select=select, ignore=ignore), fmt)
    # streamed: each file's findings are written as its result arrives (in file order), none are kept
    files = found = errors = 0
    array = JsonArrayWriter() if fmt == "json" else None
    with progress(count, "linting") as advance:
        for path, error, findings, rendered in map_files(paths, job, jobs):
            files += 1
            found += findings
            errors += error is not None
            if array is not None:
                array.add_encoded(rendered)
            else:
                if error:
                    warn(f"skipped {path}: {error}")
                if rendered:  # one write per file: a million files' findings pass through this loop
                    click.echo(rendered)
            advance()
    if array is not None:
        array.close()
    else:
        read = files - errors
        click.echo(f"{found} finding(s) in {read} caption file(s)" + (f"; {errors} unreadable, skipped." if errors
                                                                       else "."))
    if errors == files:
        sys.exit(2)
    sys.exit(1 if found else 0)


class RenderedLint:
    """Builds, in each worker, the per-file function of `dataset lint`: lint one caption file (``job``) and
    render its findings there, as text lines or one JSON array element; the parent gets (path, error, number
    of findings, rendered text) and only writes it, so a million files' findings never cross as objects."""

    def __init__(self, job, fmt: str) -> None:
        self.job, self.fmt = job, fmt

    def __call__(self):
        lint = self.job()

        def as_json(path):
            path, error, findings = lint(path)
            return path, error, len(findings), element_json(
                {"path": path, "error": error, "findings": [f.__dict__ for f in findings]})

        def as_text(path):
            path, error, findings = lint(path)
            return path, error, len(findings), "\n".join(_finding_line(path, f) for f in findings)

        return as_json if self.fmt == "json" else as_text


def _finding_line(path: str, f) -> str:
    shown = f.suggestion and repr(f.suggestion) not in f.message
    hint = f" (did you mean {f.suggestion!r}?)" if shown else ""
    return f"{path}:{f.line}:{f.column}: {f.code} {f.severity} {f.message}{hint}"


@dataset.command("normalize")
@click.argument("root", type=click.Path(exists=True))
@_EXT
@click.option("--underscores-to-spaces", is_flag=True, help="long_hair -> long hair (kaomoji kept).")
@click.option("--escape-parentheses/--unescape-parentheses", default=None, help="Write \\( \\) or remove escapes.")
@click.option("--resolve-aliases", is_flag=True, help="Rewrite aliases to canonical tags (hires -> highres).")
@click.option("--remove-duplicates", is_flag=True, help="Drop repeated tags, also across spellings.")
@click.option("--remove-implied", is_flag=True, help="Drop tags implied by another tag in the caption.")
@click.option("--character-first", is_flag=True, help="Character tags first.")
@click.option("--split-series", is_flag=True, help="kazusa_(blue_archive) -> kazusa, blue archive.")
@click.option("--rating", type=click.Choice(["keep", "first", "last", "remove"]), default="keep", show_default=True,
              help="Where rating tags (general, sensitive, questionable, explicit) go.")
@click.option("--always-first", multiple=True, metavar="TAGS", help="Comma-separated tags moved to the front.")
@click.option("--undesired", multiple=True, metavar="TAGS", help="Comma-separated tags to remove.")
@click.option("--replace", "replacements", multiple=True, metavar="OLD=NEW", help="Replace a tag (repeatable).")
@click.option("--separator", default=", ", show_default=True, help="Written between tags.")
@click.option("--order-by", "order_profile", metavar="PROFILE",
              help="Reorder by a profile's template (e.g. sotediffusion-wuerstchen3).")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--diff", is_flag=True, help="Show changes as a unified diff; write nothing.")
@click.option("--backup", is_flag=True, help="Keep each original as NAME.orig (once).")
@click.option("--fsync", is_flag=True, help="fsync every write (slower; survives power loss too).")
@click.option("--write-read-only", is_flag=True, help="Also rewrite read-only files (they stay read-only).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes, each loading the tag database once. Default: all cores; 1 runs in this "
                   "process. Results are in file order, the same for any number.")
def dataset_normalize(root, extensions, underscores_to_spaces, escape_parentheses, resolve_aliases,
                      remove_duplicates, remove_implied, character_first, split_series, rating, always_first,
                      undesired, replacements, separator, order_profile, dry_run, diff, backup, fsync, write_read_only,
                      jobs) -> None:
    """Rewrite caption files in place, atomically. Normalizing twice changes nothing the second time.

    Exit 0 when every file was written or needed no change; 2 when a file could not be read or written
    (each is named on stderr; the others are still done) or on a usage error."""
    from ..dataset import NormalizeOptions, NormalizerFactory, process_files

    def tags_of(values):
        return tuple(t.strip() for v in values for t in v.split(",") if t.strip())

    pairs = []
    for item in replacements:
        if "=" not in item:
            fail(f"--replace takes OLD=NEW, not {item!r}")
        old, new = item.split("=", 1)
        pairs.append((old.strip(), new.strip()))
    options = NormalizeOptions(
        underscores_to_spaces=underscores_to_spaces, escape_parentheses=escape_parentheses,
        resolve_aliases=resolve_aliases, remove_duplicates=remove_duplicates, remove_implied=remove_implied,
        character_first=character_first, split_series=split_series, rating=rating,
        always_first=tags_of(always_first), undesired=tags_of(undesired), replacements=tuple(pairs),
        separator=separator, profile=order_profile)
    _check_profile(order_profile)
    paths, count = _dataset_paths(root, extensions)
    write = not (dry_run or diff)
    cfg = _config()
    if options.needs_db:
        open_db(cfg)  # a bad tag source is one line here, not a traceback from every worker
    factory = NormalizerFactory(options, cfg.get("tag-sources"))
    files = changed = errors = 0
    results = process_files(paths, factory, write=write, backup=backup, fsync=fsync, workers=jobs,
                            read_only=write_read_only)
    with progress(count, "normalizing") as advance:
        for result in results:
            files += 1
            advance()
            if result.error:
                errors += 1
                warn(f"skipped {result.path}: {result.error}")
            elif result.changed:
                changed += 1
                if diff:
                    click.echo("".join(difflib.unified_diff([result.old + "\n"], [result.new + "\n"],
                                                            fromfile=result.path, tofile=result.path)), nl=False)
                elif dry_run:
                    click.echo(f"would change {result.path}")
    verb = "would change" if not write else "changed"
    click.echo(f"{verb} {changed} of {files} caption file(s); {errors} skipped (left untouched).", err=True)
    # as `ruff format`: 0 when every file was written (or needed no change); a file that could not be read
    # or written is reported, the others are still done, and the exit code is 2 (1 means findings elsewhere)
    if errors:
        sys.exit(2)


@dataset.command("stats")
@click.argument("root", type=click.Path(exists=True))
@_EXT
@_PROFILE
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Also write a self-contained HTML report.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--top", default=25, show_default=True, help="Rows in the terminal tables.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes, each loading the tag database once. Default: all cores; 1 runs in this "
                   "process. Results are in file order, the same for any number.")
def dataset_stats(root, extensions, profile, html_path, as_json, top, jobs) -> None:
    """Tag frequency by category, unknown tags with suggestions, tags per caption."""
    from ..dataset import CaptionAnalyzer, DatasetStats
    from ..dataset.analyze import AnalyzeJob
    from ..dataset.files import map_files

    _check_profile(profile)
    paths, count = _dataset_paths(root, extensions)
    cfg = _config()
    sources = cfg.get("tag-sources")
    analyzer = CaptionAnalyzer(open_db(cfg, load_profile_or_fail(profile) if profile else None), profile)
    stats = DatasetStats()
    results = map_files(paths, AnalyzeJob("stats", profile, suggest=False, sources=sources), jobs)
    with progress(count, "reading") as advance:
        for path, error, tags in results:
            advance()
            if error is not None:
                stats.errors.append((path, error))
                warn(f"skipped {path}: {error}")
            else:
                stats.add_tags(tags)
    if not stats.captions:
        fail(f"{root}: nothing could be read ({len(stats.errors)} unreadable caption file(s))")
    if html_path:
        Path(html_path).write_text(stats.to_html(analyzer), encoding="utf-8")
        click.echo(f"wrote {html_path}", err=True)
    data = stats.to_dict(analyzer, top)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"{data['captions']:,} captions, {data['distinct_tags']:,} distinct tags, "
                  f"{data['mean_tags_per_caption']:.1f} tags per caption, {len(stats.errors)} unreadable")
    if not data["categories"]:
        return  # captions without a single tag: no tables to show
    table = Table("category", "tags", title="Tags by category")
    for cat, count in data["categories"].items():
        table.add_row(cat, f"{count:,}")
    console.print(table)
    table = Table("tag", "captions", title=f"Top {top} tags")
    for tag, count in data["top_tags"]:
        table.add_row(tag, f"{count:,}")
    console.print(table)
    if data["unknown"]:
        table = Table("unknown tag", "captions", "did you mean", title="Unknown tags")
        for tag, count, suggestion in data["unknown"]:
            table.add_row(tag, f"{count:,}", suggestion or "")
        console.print(table)
