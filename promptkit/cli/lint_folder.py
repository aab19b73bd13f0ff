"""`promptkit lint DIR` on every core: folders are walked lazily and their files linted in worker processes.

Each worker reads, chooses the profile for, lints and renders (text, JSON or GitHub lines) one file at a time;
the parent writes the rendered pieces in file order, so the output is byte for byte that of ``-j 1`` (which
runs the same code in-process), and keeps only counts: memory does not grow with the number of files.
It is the run when every input is a folder and the output is text, JSON or GitHub annotations without
``--fix``/``--diff``; other runs read all their inputs first (:mod:`.lint`).

Differences from the whole-run path (``--fix``, ``--diff``, SARIF): the profile line ("profile X (reason)")
comes after the findings, once every file's profile is known, and a file that cannot be read is reported
where it stands instead of before all findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from .common import Settings, fail, warn
from .output import Tally


@dataclass
class Done:
    """One file's result, small enough to send back from a worker."""

    warnings: list[str] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)  # text chunks, JSON array elements or GitHub lines
    tally: Tally = field(default_factory=Tally)
    chosen: list[tuple[str, str]] = field(default_factory=list)  # (profile id, reason) per prompt
    fatal: str | None = None  # a wildcard-folder error: nothing can be judged, the run stops


@dataclass
class LintJob:
    """Builds, once per process, the function that lints one file of a folder (picklable)."""

    settings: Settings
    fmt: str
    color: bool
    negative: bool
    lines: bool
    container: str | None
    wildcard_dirs: tuple
    max_per_rule: int | None

    def __call__(self) -> Callable[[Path], Done]:
        from ..contain import ContainerError
        from ..templates.wildcards import WildcardError
        from . import output
        from .common import open_db
        from .inputs import InputError, WildcardFiles, read_file
        from .lint import _lint_item

        settings, cfg = self.settings, self.settings.config
        dirs = tuple(Path(d).resolve() for d in self.wildcard_dirs)
        wildcards = None
        if self.wildcard_dirs:
            from ..templates.wildcards import Wildcards

            wildcards = Wildcards.from_folders(list(self.wildcard_dirs))
        dbs: dict[str, Any] = {}
        backtrack = int(cfg.get("backtrack", 20))

        is_wildcard_file = WildcardFiles(dirs)

        def kind_of(p: Path) -> str | None:
            if self.container is None and not self.lines and is_wildcard_file(p):
                return "wildcard-file"
            return self.container

        def one(path: Path) -> Done:
            done = Done()
            try:
                items = read_file(path, self.negative, self.lines, kind_of(path), rewritable=False)
            except InputError as exc:
                done.warnings.append(f"skipped {exc}")
                return done
            for item in items:
                prof, reason = settings.choose(item.text if not item.negative else "", item.model, item.model_hash)
                item.profile_reason = reason
                if not settings.given:
                    done.chosen.append((prof.id, reason))
                if prof.id not in dbs:
                    dbs[prof.id] = open_db(cfg, prof)
                try:
                    pair = _lint_item(item, prof, settings.dialect, dbs[prof.id], settings.select, settings.ignore,
                                      backtrack, settings.embeddings, False, False, False, False,
                                      self.max_per_rule, {}, wildcards)
                except WildcardError as exc:
                    done.fatal = str(exc)
                    return done
                except ContainerError as exc:
                    said = str(exc) if item.label in str(exc) else f"{item.label}: {exc}"
                    done.warnings.append(f"skipped {said}")
                    continue
                done.tally.add(pair[1])
                if self.fmt == "json":
                    done.rendered.append("".join(output.json_chunks([pair]))[2:-2])
                elif self.fmt == "github":
                    text = output.github_report([pair])
                    done.rendered.extend([text] if text else [])
                else:
                    done.rendered.extend(output.text_report_lines([pair], self.color))
            return done

        return one


def folder_files(folder: Path, suffixes: tuple[str, ...], wildcard_dirs: tuple) -> Iterator[Path]:
    """The files `lint` reads in a folder (see :mod:`.inputs`), lazily, in sorted order."""
    from ..dataset.files import suffix, walk_sorted
    from .inputs import WildcardFiles

    is_wildcard_file = WildcardFiles(tuple(Path(d).resolve() for d in wildcard_dirs))

    def keep(name: str, path: str) -> bool:
        if name.startswith("."):
            return False
        ext = suffix(name).lower()
        return ext in suffixes or ext == ".png" or is_wildcard_file(Path(path))

    for path in walk_sorted(str(folder), keep):
        yield Path(path)


def all_folders(prompts: tuple[str, ...]) -> bool:
    """Every input is a folder: the run `lint_streamed` does."""
    from .inputs import _kind

    return bool(prompts) and all(arg and arg != "-" and _kind(_path(arg)) == "dir" for arg in prompts)


def _path(arg: str) -> Path:
    return Path(arg).expanduser() if arg.startswith("~") else Path(arg)


def lint_streamed(folders: tuple[str, ...], suffixes: tuple[str, ...], job: LintJob, jobs: int | None,
                  fail_on: str) -> None:
    """Lint every file of the folders on ``jobs`` processes, writing each result as it comes; exits as `lint`."""
    from ..dataset.files import map_files
    from ..linter import Severity
    from . import output
    from .progress import progress

    def results() -> Iterator[Done]:
        for arg in folders:
            paths = folder_files(_path(arg), suffixes, job.wildcard_dirs)
            first = next(paths, None)
            if first is None:
                yield Done(warnings=[f"skipped {arg}: no caption files ({', '.join(suffixes)}) or PNGs in "
                                     f"this folder"])
                continue
            yield from map_files(_chain(first, paths), job, jobs)

    tally = Tally()
    announced: dict[tuple[str, str], int] = {}
    array = output.JsonArrayWriter() if job.fmt == "json" else None
    warned = 0
    with progress(lambda: _count(folders, suffixes, job.wildcard_dirs), "linting", min_total=50) as advance:
        for done in results():
            for line in done.warnings:
                warn(line)
            warned += len(done.warnings)
            if done.fatal:
                fail(done.fatal)
            if array is not None:
                for chunk in done.rendered:
                    array.add_encoded(chunk)
            elif done.rendered:  # one write per file, not per finding
                click.echo("\n".join(done.rendered))
            tally.merge(done.tally)
            for key in done.chosen:
                announced[key] = announced.get(key, 0) + 1
            advance()
    if not tally.prompts and warned:
        fail("nothing could be read")
    if job.fmt == "text":
        for (pid, reason), count in announced.items():
            share = f" ({count} of {sum(announced.values())} prompts)" if len(announced) > 1 else ""
            warn(f"profile {pid}{share} ({reason})")
    if array is not None:
        array.close()
    elif job.fmt == "text":
        click.echo(output.summary_of(tally))
    raise SystemExit(1 if tally.worst >= Severity(fail_on).rank else 0)


def _chain(first, rest):
    yield first
    yield from rest


def _count(folders: tuple[str, ...], suffixes: tuple[str, ...], wildcard_dirs: tuple) -> int:
    """The files in the folders (the progress bar's total)."""
    return sum(sum(1 for _ in folder_files(_path(arg), suffixes, wildcard_dirs)) for arg in folders)
