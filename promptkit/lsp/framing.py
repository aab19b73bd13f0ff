"""The client's byte stream cut into JSON-RPC messages, strictly and in bounded memory.

pygls reads a ``Content-Length: N`` line, then N bytes. It trusts N (``Content-Length: 99999999999`` is a
MemoryError that ends the server) and, after a header it cannot read (``Content-Lenght``, a negative or
non-numeric length), it reads the body as header lines and loses its place in the stream for good. So the
server reads the stream here and hands pygls only well-formed frames (``Content-Length: N\\r\\n\\r\\n`` and N bytes
that are UTF-8, undecodable bytes read as U+FFFD).

A frame is refused, with one log line, when a header line is longer than ``MAX_HEADER_LINE`` or is not
``Name: value``, when there are more than ``MAX_HEADERS`` lines, when ``Content-Length`` is missing, repeated,
not ASCII digits, zero, or over ``MAX_MESSAGE``. The reader then looks for the next ``Content-Length:`` from
one byte past where the refused frame began (the body of a refused frame is never read whole: its length is
not trusted), so the messages after a bad one are served. Memory stays under ``MAX_MESSAGE`` plus the headers.
"""

from __future__ import annotations

import logging
import re
from typing import BinaryIO

logger = logging.getLogger(__name__)

MAX_MESSAGE = 64 * 2 ** 20  # bytes of one message: a document of several MB, escaped as JSON
MAX_HEADER_LINE = 8192
MAX_HEADERS = 32
_READ = 1 << 16
_DIGITS = re.compile(rb"[0-9]+")
_NEXT = re.compile(rb"content-length:", re.I)
_NAME = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token, as header names are


class FrameReader:
    """Frames from a binary stream (``read1`` or ``read``): :meth:`next_frame` gives each message's body."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self._read = getattr(raw, "read1", None) or raw.read
        self._buf = bytearray()
        self._eof = False
        self.refused = 0

    def _fill(self) -> bool:
        """More bytes into the buffer; False at the end of the stream."""
        if self._eof:
            return False
        data = self._read(_READ)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def next_frame(self) -> bytes | None:
        """The next message's body, or None at the end of the stream."""
        while True:
            result = self._frame()
            if isinstance(result, bytes):
                return result
            if result is None:
                return None
            self.refused += 1
            logger.warning("promptkit lsp: refused a message (%s); reading on from the next Content-Length header",
                           result)
            del self._buf[:1]
            if not self._resync():
                return None

    def _resync(self) -> bool:
        """Drop bytes up to the next ``Content-Length:`` (any case); False at the end of the stream."""
        keep = len(b"content-length:") - 1
        while True:
            match = _NEXT.search(self._buf)
            if match is not None:
                del self._buf[:match.start()]
                return True
            if len(self._buf) > keep:
                del self._buf[:len(self._buf) - keep]
            if not self._fill():
                return False

    def _frame(self) -> bytes | str | None:
        """A body, a reason to refuse the frame at the buffer's start (left in the buffer), or None at the end."""
        pos = 0
        length: int | None = None
        lines = 0
        while True:
            end = self._buf.find(b"\n", pos, pos + MAX_HEADER_LINE + 1)
            while end < 0:
                if len(self._buf) - pos > MAX_HEADER_LINE:
                    return f"a header line longer than {MAX_HEADER_LINE:,} bytes"
                if not self._fill():
                    return None
                end = self._buf.find(b"\n", pos, pos + MAX_HEADER_LINE + 1)
            line = bytes(self._buf[pos:end]).rstrip(b"\r")
            pos = end + 1
            if not line:
                if lines == 0:  # blank lines between messages: skipped
                    del self._buf[:pos]
                    pos = 0
                    continue
                break
            lines += 1
            if lines > MAX_HEADERS:
                return f"more than {MAX_HEADERS} header lines"
            name, colon, value = line.partition(b":")
            if not colon or not _NAME.fullmatch(name):
                return f"a header line that is not 'Name: value' ({line[:40]!r})"
            if name.strip().lower() == b"content-length":
                value = value.strip(b" \t")
                if length is not None:
                    return "Content-Length given twice"
                if not _DIGITS.fullmatch(value):
                    return f"Content-Length {value[:40]!r} is not a number of bytes"
                length = int(value) if len(value) <= 18 else MAX_MESSAGE + 1
                if length > MAX_MESSAGE:
                    return f"Content-Length {value[:40].decode()} is over the limit of {MAX_MESSAGE:,} bytes"
                if length == 0:
                    return "Content-Length 0 (an empty message)"
        if length is None:
            return "no Content-Length header"
        while len(self._buf) - pos < length:
            if not self._fill():
                return None
        body = bytes(self._buf[pos:pos + length])
        del self._buf[:pos + length]
        return body


class FramedStdin:
    """What pygls reads (``readline``, ``read``), made of :class:`FrameReader`'s frames only: one
    ``Content-Length`` line, a blank line, then the body (as UTF-8, undecodable bytes read as U+FFFD)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.frames = FrameReader(raw)
        self._lines: list[bytes] = []
        self._body = b""

    def readline(self) -> bytes:
        if not self._lines:
            body = self.frames.next_frame()
            if body is None:
                return b""
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                body = body.decode("utf-8", "replace").encode("utf-8")
            self._lines = [b"Content-Length: %d\r\n" % len(body), b"\r\n"]
            self._body = body
        return self._lines.pop(0)

    def read(self, n: int) -> bytes:
        body, self._body = self._body[:n], self._body[n:]
        return body

    def close(self) -> None:
        self.frames.raw.close()
