"""`promptkit playground`: a local web page for writing prompts, served on 127.0.0.1."""

from __future__ import annotations

import click

from .common import fail


@click.command("playground")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: a free one, printed).")
@click.option("--verbose", is_flag=True, help="Log every request.")
def playground_command(port: int, verbose: bool) -> None:
    """Serve the playground on 127.0.0.1 (nothing is opened; open the printed address in a browser).

    One page: the prompt and negative prompt with profile and dialect pickers, findings underlined with
    one-click fixes, tag completion, tag info on hover, the 75-token chunks as A1111 cuts them, and the
    prompt in every other dialect. The page and its JSON API work offline. Ctrl+C stops it."""
    from ..playground.server import PlaygroundServer

    try:
        server = PlaygroundServer(port, verbose)
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}")
    click.echo(f"promptkit playground: {server.url} (Ctrl+C stops it)", err=False)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.api.close()
