"""The playground server for tests: started on 127.0.0.1 with a bounded analysis memory, stopped after."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from promptkit.playground.server import PlaygroundServer


@contextmanager
def running_playground(**options) -> Iterator[PlaygroundServer]:
    old = os.environ.get("PROMPTKIT_EDITOR_MEMORY_MB")
    os.environ["PROMPTKIT_EDITOR_MEMORY_MB"] = "1200"
    playground = PlaygroundServer(**options).start()
    try:
        yield playground
    finally:
        playground.stop()
        if old is None:
            os.environ.pop("PROMPTKIT_EDITOR_MEMORY_MB", None)
        else:
            os.environ["PROMPTKIT_EDITOR_MEMORY_MB"] = old
