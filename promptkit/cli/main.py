"""The ``promptkit`` command line: the group and its entry point.

Each command group lives in its own module (``lint``, ``fmt``, ``syntax``, ``tags``, ``catalog``,
``generate``, ``dataset``); this module only assembles them. Exit codes: 0 clean, 1 findings (or changes
with ``--check``/``--diff``), 2 usage or input errors. Everything here runs offline on the bundled data;
nothing imports torch.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__

COMMANDS = {  # name -> (module, attribute): a command's module is imported only when it runs (or for --help)
    "convert": ("syntax", "convert"),
    "dataset": ("dataset", "dataset"),
    "expand": ("expand", "expand_command"),
    "fmt": ("fmt", "fmt_command"),
    "generate": ("generate", "generate"),
    "info": ("generate", "info"),
    "lint": ("lint", "lint"),
    "lsp": ("lsp", "lsp_command"),
    "parse": ("syntax", "parse_command"),
    "playground": ("playground", "playground_command"),
    "profiles": ("catalog", "profiles"),
    "rules": ("catalog", "rules"),
    "tags": ("tags", "tags"),
    "tokens": ("syntax", "tokens"),
}


class _Group(click.Group):
    """Ctrl-C ends a command with exit code 130 (128 + SIGINT, what shells report), not click's "Aborted!"
    and 1, the code for "findings". The command's own cleanup has run by then: rewrites are atomic and
    worker pools are stopped as the KeyboardInterrupt passes through them.

    Commands load lazily (:data:`COMMANDS`): `promptkit lint` does not pay for importing `dataset`,
    `generate` or the language server's modules."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(f"{__package__}.{module}"), attribute), cmd_name)
        return self.commands.get(cmd_name)

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


def main() -> None:
    try:
        cli(prog_name="promptkit")
    except BrokenPipeError:  # `promptkit ... | head`
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
