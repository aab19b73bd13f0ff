"""What the fuzzers run on each input, and which exceptions are allowed (everything else is a bug).

Shared by ``tests/test_fuzz.py`` (hypothesis, a bounded number of examples per CI run) and
``tools/fuzz.py`` (atheris, for runs of minutes or hours). An allowed exception is one the CLI turns into a
clear line: a ``PromptSyntaxError``, a ``ConversionError`` for what a dialect cannot express, a
``ValueError`` naming a malformed PNG.
"""

from __future__ import annotations

import functools
import os
import tempfile

from promptkit.infotext import _PARAM, looks_like_infotext, param_pairs, parse_infotext, read_png_prompts
from promptkit.syntax import ConversionError, PromptSyntaxError

DIALECTS = ("a1111", "comfy", "novelai", "compel")


@functools.cache
def db():
    from promptkit.tags import default_db

    return default_db()


@functools.cache
def profiles() -> tuple[str, ...]:
    from promptkit.profiles import bundled_ids

    return tuple(bundled_ids())


def check_parse(text: str) -> None:
    import promptkit

    for dialect in DIALECTS:
        prompt = promptkit.parse(text, dialect=dialect)
        [(t.name, t.start, t.end, t.weight) for t in prompt.tags]
        try:
            promptkit.parse(text, dialect=dialect, strict=True)
        except PromptSyntaxError:
            pass


def check_convert(text: str) -> None:
    import promptkit

    for write in DIALECTS:
        try:
            promptkit.convert(text, "a1111", write)
        except (ConversionError, PromptSyntaxError):
            pass


def check_lint(text: str, profile: str, negative: bool = False) -> None:
    from promptkit.linter import lint_prompt

    lint_prompt(text, profile, None, db(), negative=negative)


def check_fix_and_fmt(text: str, profile: str) -> None:
    from promptkit.linter import fix_text, format_prompt

    fixed, _ = fix_text(text, profile, None, db(), unsafe=True)
    assert isinstance(fixed, str)
    format_prompt(text, profile, None, db())


def check_infotext(text: str) -> None:
    looks_like_infotext(text)
    parse_infotext(text)
    last = text.rsplit("\n", 1)[-1]
    if len(last) <= 300:  # A1111's regex is quadratic: compare on short lines only
        assert param_pairs(last) == _PARAM.findall(last), last


def check_png(data: bytes) -> None:
    fd, name = tempfile.mkstemp(suffix=".png", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            read_png_prompts(name)
        except ValueError:
            pass
    finally:
        os.unlink(name)


# -- framing: the language server's JSON-RPC reader and the playground's HTTP server ------------------------

def check_frames(data: bytes) -> list[bytes]:
    """The LSP reader on any bytes: it ends, raises nothing, and gives bodies within its limit made of input
    bytes (never more than the input holds)."""
    import io

    from promptkit.lsp.framing import MAX_MESSAGE, FrameReader

    reader = FrameReader(io.BytesIO(data))
    bodies = []
    while (body := reader.next_frame()) is not None:
        assert 0 < len(body) <= MAX_MESSAGE and body in data
        bodies.append(body)
    assert sum(map(len, bodies)) <= len(data)
    return bodies


HTTP_STATUSES_ALLOWED = {100} | set(range(200, 300)) | set(range(400, 500)) | {501, 505}  # 501/505: method, version


def check_http(port: int, data: bytes, timeout: float = 60.0) -> list[int]:
    """Raw bytes to the playground on 127.0.0.1:``port`` (then end of input): every answer is a 2xx or a 4xx
    (501/505 for a method or an HTTP version it does not speak), and the connection ends within ``timeout``.
    Returns the statuses."""
    import re
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received = bytearray()
    try:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError, OSError):  # it answered and closed before reading it all
            pass
        while chunk := sock.recv(1 << 16):
            received += chunk
    except ConnectionResetError:  # the server closed with input unread (it refused the request): not a hang
        pass
    finally:
        sock.close()
    statuses = [int(s) for s in re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", bytes(received))]
    assert all(s in HTTP_STATUSES_ALLOWED for s in statuses), (statuses, bytes(received[:300]))
    return statuses
