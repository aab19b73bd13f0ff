"""`promptkit lint`: findings for prompts, files, folders, infotext files and PNGs; `--fix` and `--diff`."""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys

import click

from .._files import FileRewriteError, rewrite
from .common import (
    CONTAINER_HELP, DIALECT, container_option, fail, load_settings, open_db, read_inputs, warn, wildcard_folders,
)
from .inputs import PromptInput
from .progress import progress

FINDING_CAP = 20
"""Findings of one rule shown per prompt; the rest are counted (``--no-cap`` shows them all): a generated
caption of 5 MB held 400,000 findings, 1.6 million lines of text."""

INPUT_RULES = """\b
Inputs: an argument that names an existing file or folder is read; `-` is stdin; anything else is a
prompt, however long. A missing path (no spaces or commas, ending in .txt/.caption/.png, starting with
/ ./ ../ ~, or inside an existing folder) is an error. A .txt/.caption file is one caption (its lines are
tags); with --lines each line of a file or of stdin is its own prompt, as A1111's "Prompts from file"
reads it. Infotext files and PNGs are split into prompt and negative prompt. Containers (styles.csv, AI Horde
styles, Regional Prompter and Forge Couple regions, kohya sample prompts, textual-inversion and dynamic-prompts
templates, wildcard files) are split into their prompts, each linted on its own; placeholders such as {prompt},
{p}, [filewords] and __wildcards__ are not prompt text. BOMs are dropped; binary or non-UTF-8 input is refused.
In folders, unreadable files are reported and skipped."""


@click.command(epilog=INPUT_RULES)
@click.argument("prompts", nargs=-1)
@click.option("-f", "--file", "files", multiple=True, metavar="FILE",
              help="Read a prompt file: caption .txt, A1111 infotext, or PNG with A1111/ComfyUI metadata.")
@click.option("--lines", is_flag=True, help="One prompt per line of each file (and of stdin), as A1111's "
                                            "'Prompts from file' reads them.")
@click.option("-p", "--profile", help="Model profile id or profile file (see `promptkit profiles`). Default: the "
                   "model an infotext names, else the config's, else the family whose special tags the prompt uses "
                   "(score_9: pony-v6), else illustrious-xl (Danbooru tags); the choice is printed.")
@click.option("-d", "--dialect", type=DIALECT, help="Prompt syntax. Default: the profile's.")
@click.option("--container", metavar="KIND", help=CONTAINER_HELP)
@click.option("--select", multiple=True, metavar="CODES",
              help="Only these rule codes, prefixes or names (PK2, PK201, ALL); turns on rules that are off by default.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rule codes or prefixes.")
@click.option("--embeddings", "embeddings", multiple=True, metavar="DIR",
              help="Folder of textual-inversion files: their names are embeddings, not tags.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text",
              show_default=True, help="Output format.")
@click.option("--fix", is_flag=True, help="Apply safe fixes: rewrite files in place (atomically), print fixed prompts.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also apply unsafe fixes.")
@click.option("--diff", is_flag=True, help="Show the fixes as a unified diff; change nothing.")
@click.option("--negative", is_flag=True, help="The prompts given are negative prompts (every input).")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error"]), default=None,
              help="Lowest severity that makes the exit code 1. Default: warning.")
@click.option("--write-read-only", is_flag=True, help="With --fix, also rewrite read-only files (they stay read-only).")
@click.option("--no-cap", is_flag=True, help=f"Show every finding: by default a prompt shows the first {FINDING_CAP} "
              "of each rule and counts the rest (in every format; JSON lists the counts under 'omitted').")
@click.option("--wildcards", "wildcard_dirs", multiple=True, metavar="DIR",
              help="Dynamic-prompts wildcard folder: `__name__` in templates is looked up there (PK401, PK403; "
                   "without one no wildcard is judged) and its files are wildcard files. Default: the config's "
                   "`wildcard-dirs`.")
@click.option("--ext", "extensions", multiple=True, default=(".txt", ".caption"), show_default=True,
              help="Caption file extensions to read in folders.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for folders (text, JSON and GitHub output without --fix/--diff). "
                   "Default: all cores; 1 runs in this process. The output is the same for any number.")
def lint(prompts, files, lines, profile, dialect, container, select, ignore, embeddings, fmt, fix, unsafe_fixes,
         diff, negative, fail_on, write_read_only, no_cap, wildcard_dirs, extensions, jobs) -> None:
    """Lint prompts: arguments, `-` for stdin, caption files, folders, infotext files and PNGs.

    Findings show file, line:column, rule code, message, the source around the span with a caret under
    it, and suggestions. Exit code 0 when clean, 1 with findings at or above --fail-on, 2 on usage or
    input errors (in a folder run: only when no file could be read).
    """
    from ..linter import Severity
    from . import output

    settings = load_settings(profile, dialect, select, ignore, tuple(embeddings))
    prof, dialect, select, ignore, cfg = settings
    fail_on = fail_on or cfg.get("fail-on", "warning")
    container = container_option(container, cfg)
    if not prompts and not files:
        if sys.stdin.isatty():
            fail("give prompts, files or folders to lint (or `-` to read stdin); see `promptkit lint --help`")
        prompts = ("-",)
    folders = wildcard_folders(tuple(wildcard_dirs), cfg)
    suffixes = tuple(e if e.startswith(".") else f".{e}" for e in extensions)
    from .lint_folder import LintJob, all_folders, lint_streamed

    if all_folders(tuple(prompts)) and not files and not (fix or diff) and fmt != "sarif":
        color = fmt == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        job = LintJob(settings, fmt, bool(color), negative, lines, container, tuple(folders),
                      None if no_cap else FINDING_CAP)
        lint_streamed(tuple(prompts), suffixes, job, jobs, fail_on)  # folders on every core, streamed
    found = read_inputs(tuple(prompts), tuple(files), suffixes, negative, lines, container, tuple(folders))
    wildcards = None
    if folders:
        from ..templates.wildcards import Wildcards

        wildcards = Wildcards.from_folders(folders)  # read once, on first use
    chosen: dict[int, tuple] = {}  # per input: (profile, db)
    dbs: dict[str, object] = {}
    announced: dict[tuple[str, str], int] = {}
    for item in found.items:
        # an infotext's negative prompt goes with its prompt: decided by the prompt's tags
        text = item.text if not item.negative else ""
        item_prof, reason = settings.choose(text, item.model, item.model_hash)
        item.profile_reason = reason
        if item_prof.id not in dbs:
            dbs[item_prof.id] = open_db(cfg, item_prof)
        chosen[id(item)] = (item_prof, dbs[item_prof.id])
        if not settings.given:
            announced[(item_prof.id, reason)] = announced.get((item_prof.id, reason), 0) + 1
    if fmt == "text" and not diff:
        for (pid, reason), count in announced.items():
            share = f" ({count} of {len(found.items)} prompts)" if len(announced) > 1 else ""
            warn(f"profile {pid}{share} ({reason})")
    backtrack = int(cfg.get("backtrack", 20))
    names = settings.embeddings
    pairs = []
    state = {"fixed": 0, "changed": False, "not_written": False}
    from ..contain import ContainerError

    with progress(len(found.items), "linting", min_total=50) as advance:
        for item in found.items:
            prof, db = chosen[id(item)]
            try:
                pairs.append(_lint_item(item, prof, dialect, db, select, ignore, backtrack, names, fix, diff,
                                        unsafe_fixes, write_read_only, None if no_cap else FINDING_CAP, state,
                                        wildcards))
            except _wildcard_error() as exc:  # the wildcard folder itself: nothing can be judged against it
                fail(str(exc))
            except ContainerError as exc:  # a file that is not what its container says: skipped like unreadable ones
                said = str(exc) if item.label in str(exc) else f"{item.label}: {exc}"
                if len(found.items) == 1:
                    fail(said)
                warn(f"skipped {said}")
            advance()
    fixed_total, changed, not_written = state["fixed"], state["changed"], state["not_written"]
    if fmt == "json":
        for chunk in output.json_chunks(pairs):
            click.echo(chunk, nl=False)
        click.echo()
    elif fmt == "sarif":
        click.echo(output.sarif_report(pairs))
    elif fmt == "github":
        text = output.github_report(pairs)
        if text:
            click.echo(text)
    elif not diff:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        for chunk in output.text_report_lines(pairs, color):
            click.echo(chunk)
        click.echo(output.summary(pairs, fixed_total))
    threshold = Severity(fail_on).rank
    if not_written:
        sys.exit(2)
    if diff and changed:
        sys.exit(1)
    if any(d.severity.rank >= threshold for _, r in pairs for d in r.diagnostics) or \
            any(Severity(sev).rank >= threshold for _, r in pairs for (_, sev) in r.omitted):
        sys.exit(1)


def _wildcard_error() -> type[Exception]:
    """WildcardError, imported only when an exception is being matched (an ``except`` clause's type is evaluated
    then): `promptkit.templates` loads the dynamic-prompts expander, which a plain prompt never needs."""
    from ..templates.wildcards import WildcardError

    return WildcardError


def _lint_item(item: PromptInput, prof, dialect, db, select, ignore, backtrack, names, fix, diff, unsafe_fixes,
               write_read_only, max_per_rule: int | None, state: dict, wildcards=None):
    """Fix (with --fix/--diff) and lint one input; a container file is handled prompt by prompt."""
    from ..linter import fix_text, lint_prompt

    path = str(item.path) if item.path is not None else None
    if fix or diff:
        new_text, applied = fix_text(item.text, prof, dialect, db, select, ignore, unsafe=unsafe_fixes,
                                     negative=item.negative, embeddings=names, container=item.container, path=path)
        if new_text != item.text:
            state["changed"] = True
            state["fixed"] += len(applied)
            if diff:
                click.echo("".join(difflib.unified_diff(
                    (item.text + "\n").splitlines(True), (new_text + "\n").splitlines(True),
                    fromfile=item.label, tofile=item.label)), nl=False)
            elif item.fixable:
                try:
                    rewrite(item.file, item.file.with_body(new_text), allow_read_only=write_read_only)
                except (FileRewriteError, OSError) as exc:
                    warn(str(exc))
                    new_text, state["not_written"] = item.text, True  # findings are for the text left in the file
            elif item.path is None and item.label.startswith("<"):
                click.echo(new_text)
            else:
                warn(f"{item.label}: metadata inside a file is not rewritten; fixed text:\n{new_text}")
        if fix:
            item = dataclasses.replace(item, text=new_text)
    report = lint_prompt(item.text, prof, dialect, db, select, ignore, item.negative, backtrack, embeddings=names,
                         container=item.container, path=path, max_per_rule=max_per_rule, wildcards=wildcards)
    return item, report
