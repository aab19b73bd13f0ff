"""The ``promptkit`` command line: the group and its entry point.

Each command group lives in its own module (``lint``, ``fmt``, ``syntax``, ``tags``, ``catalog``,
``generate``, ``dataset``); this module only assembles them. Exit codes: 0 clean, 1 findings (or changes
with ``--check``/``--diff``), 2 usage or input errors. Everything here runs offline on the bundled data;
nothing imports torch.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from .catalog import profiles, rules
from .dataset import dataset
from .expand import expand_command
from .fmt import fmt_command
from .generate import generate, info
from .lint import lint
from .lsp import lsp_command
from .playground import playground_command
from .syntax import convert, parse_command, tokens
from .tags import tags


class _Group(click.Group):
    """Ctrl-C ends a command with exit code 130 (128 + SIGINT, what shells report), not click's "Aborted!"
    and 1, the code for "findings". The command's own cleanup has run by then: rewrites are atomic and
    worker pools are stopped as the KeyboardInterrupt passes through them."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\npromptkit: interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="promptkit")
def cli() -> None:
    """Parse, lint, format and convert prompts for tag-trained text-to-image models.

    \b
    Examples:
      promptkit lint "1girl, kazusa (blue archive), long hiar" --profile kivotos-xl-2
      promptkit fmt --profile kivotos-xl-2 captions/
      promptkit convert "(best quality:1.2), [blurry]" --write compel
      promptkit tags suggest "long hiar"
    """


for command in (lint, fmt_command, convert, parse_command, tokens, tags, profiles, rules, generate, info, dataset,
                expand_command):
    cli.add_command(command)
cli.add_command(lsp_command)
cli.add_command(playground_command)


def main() -> None:
    try:
        cli(prog_name="promptkit")
    except BrokenPipeError:  # `promptkit ... | head`
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
