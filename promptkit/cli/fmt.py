"""`promptkit fmt`: order tags by the profile's template and normalize spelling, in place or printed."""

from __future__ import annotations

import difflib
import sys

import click

from .._files import FileRewriteError, rewrite
from .common import CONTAINER_HELP, DIALECT, container_option, fail, load_settings, open_db, read_inputs, warn


@click.command("fmt")
@click.argument("prompts", nargs=-1)
@click.option("-f", "--file", "files", multiple=True, metavar="FILE", help="Caption or prompt file to format in place.")
@click.option("-p", "--profile", help="Model profile id or file. Default: sdxl-base.")
@click.option("-d", "--dialect", type=DIALECT, help="Prompt syntax. Default: the profile's.")
@click.option("--container", metavar="KIND", help=CONTAINER_HELP)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if anything would be reformatted.")
@click.option("--diff", is_flag=True, help="Show what would change as a unified diff; change nothing.")
@click.option("--negative", is_flag=True, help="The prompts are negative prompts (no ordering).")
@click.option("--lines", is_flag=True, help="One prompt per line of each file (and of stdin); such files are "
                                            "printed, not rewritten.")
@click.option("--write-read-only", is_flag=True, help="Also rewrite read-only files (they stay read-only).")
def fmt_command(prompts, files, profile, dialect, container, check, diff, negative, lines, write_read_only) -> None:
    """Format prompts: order tags by the profile template, normalize spacing, underscores and escapes.

    Files are rewritten in place (atomically); prompts given as arguments are printed. Every tag is kept
    with its weight, and judged against the profile's own tag sources (a tag is never rewritten into
    another concept). Inputs are read as `promptkit lint` reads them (see its --help). In a container (a
    styles.csv, a template, regions ...) each prompt is formatted on its own: nothing moves across a prompt,
    region or placeholder, and what lies between them is kept byte for byte.
    """
    from ..contain import ContainerError
    from ..linter import format_prompt

    prof, dialect, _, _, cfg = load_settings(profile, dialect, (), ())
    container = container_option(container, cfg)
    if not prompts and not files:
        prompts = ("-",)
    found = read_inputs(tuple(prompts), tuple(files), negative=negative, lines=lines, container=container)
    db = open_db(cfg, prof)
    changed = 0
    failed = False
    for item in found.items:
        try:
            new = format_prompt(item.text, prof, dialect, db, negative=item.negative or negative,
                                container=item.container, path=str(item.path) if item.path is not None else None)
        except ContainerError as exc:
            fail(str(exc))
        if new == item.text:
            if not (check or diff) and not item.fixable:
                click.echo(new)
            continue
        changed += 1
        if diff:
            click.echo("".join(difflib.unified_diff((item.text + "\n").splitlines(True), (new + "\n").splitlines(True),
                                                    fromfile=item.label, tofile=item.label)), nl=False)
        elif check:
            click.echo(f"would reformat {item.label}")
        elif item.fixable:
            try:
                rewrite(item.file, item.file.with_body(new), allow_read_only=write_read_only)
            except (FileRewriteError, OSError) as exc:
                warn(str(exc))
                failed = True
                continue
            click.echo(f"reformatted {item.label}", err=True)
        else:
            click.echo(new)
    if failed:
        sys.exit(2)
    if (check or diff) and changed:
        sys.exit(1)
