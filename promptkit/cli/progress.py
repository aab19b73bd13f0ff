"""Progress for long runs (folders, datasets): rich's bar with counts, rate and time left on a terminal's
stderr; nothing at all when stderr is piped or redirected, so logs and pipes get only the results."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def progress(total: int | Callable[[], int], label: str, console=None,
             min_total: int = 2) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n=1)``. Shown only when ``console`` is given or stderr is a terminal.

    ``total`` may be a function (counting a million files costs a walk of the folder): it is called only when
    the bar is shown."""
    if console is None and not _stderr_is_terminal():
        yield _nothing
        return
    if callable(total):
        total = total()
    if total < min_total:
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                   console=console or Console(stderr=True), transient=True,
                   # results printed during the run go above the bar on the terminal, but stdout sent to a
                   # file or pipe stays there (rich would otherwise print it on the bar's stderr console)
                   redirect_stdout=_is_terminal(sys.stdout), redirect_stderr=True)
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


def _nothing(n: int = 1) -> None:
    return None


def _stderr_is_terminal() -> bool:
    return _is_terminal(sys.stderr)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
