"""`promptkit lsp`: the language server on stdin/stdout (needs the `lsp` extra: pygls and lsprotocol)."""

from __future__ import annotations

import click


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk over stdin/stdout (the default; accepted for editors that pass it).")
def lsp_command(stdio: bool) -> None:
    """Run the promptkit language server: findings as you type, fixes as code actions, tag completion,
    hover, formatting and highlighting. Settings: a first-line directive (`# promptkit: profile=ID`),
    the project's promptkit.toml or [tool.promptkit], then the editor's `promptkit` settings."""
    try:
        from ..lsp.server import run_stdio
    except ImportError as exc:
        from .common import fail

        fail(f"the language server needs the lsp extra: pip install 'promptkit[lsp]' ({exc})")
    run_stdio()
