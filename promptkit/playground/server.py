"""``promptkit playground``: the page and its JSON API on 127.0.0.1, from the standard library's http.server.

Answers: 200 with JSON; 400 malformed JSON, a body that is not UTF-8, or a Content-Length that is not ASCII
digits (``²`` is a digit to ``str.isdigit``, not to HTTP); 403 an ``Origin`` that is not this server's page;
404 no such page; 405 wrong method; 408 a body that does not arrive in time; 411 no Content-Length (or a
chunked body); 413 a body over the limit; 415 not ``application/json``; 421 a ``Host`` that is not the address
the server is bound to; 409 a fix for a finding that is not there (the text changed); 422 a request that does
not validate, or a text the analysis could not handle (out of memory or time); 503 too many large texts at
once; 500 a promptkit bug. Every error is ``{"error": message, "details": [...]}``. The page's files ship in
``static/`` and are the only files served; the Content-Security-Policy allows nothing from elsewhere, so the
page works offline and loads nothing from a CDN.

Who may ask. The server listens on loopback, but any web page the user opens can make the browser send
requests to it, and DNS rebinding lets such a page name ``evil.example`` and reach 127.0.0.1. So every request
must carry a ``Host`` naming the bound address (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT`` when
bound there; anything else, or none, is 421), and every API request (the POSTs and the catalogue GETs, which
start the analysis) whose ``Origin`` is present must come from that same address (403 otherwise, ``null``
included). A request without ``Origin`` is let through: browsers send ``Origin`` on every POST and every
cross-origin ``fetch``, so its absence means a non-browser client (curl, a script), which could read the files
itself anyway. The API names bundled profiles by id only, in the JSON and in a ``# promptkit:`` directive in
the text alike (``api.py``): no request makes the server open a file.

Threads and time. One thread per connection (``ThreadingHTTPServer``), a listen backlog of
``REQUEST_QUEUE_SIZE`` (a page of parallel requests is not reset), and a socket timeout per connection
(``timeout``) plus a deadline for the whole body, so that a client that stops sending holds no thread.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pydantic import ValidationError

from .api import CATALOGUES, ROUTES, Api, ApiError

STATIC = Path(__file__).resolve().parent / "static"
FILES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
         "/static/app.css": ("app.css", "text/css; charset=utf-8")}
MAX_BODY = 16 * 2 ** 20
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'"
REQUEST_QUEUE_SIZE = 128  # the listen backlog: http.server's 5 resets a page's burst of parallel requests
SOCKET_TIMEOUT = 20.0  # seconds a connection may stay silent (between requests, or in the middle of one)
BODY_RATE = 256 * 1024  # bytes a second a body must at least arrive at, on top of SOCKET_TIMEOUT
_LENGTH = re.compile(r"[0-9]+")  # ASCII digits only (str.isdigit takes '²' and other digits)
_HUGE = 10 ** 18  # any length of more digits than this (int() refuses over 4,300 digits)


def parse_length(value: str | None) -> int | None:
    """A Content-Length header's value as a number, or None when it is not one (absent, negative, not ASCII
    digits). Lengths of more than 18 digits read as 10**18: over any limit."""
    if value is None:
        return None
    value = value.strip(" \t")
    if not _LENGTH.fullmatch(value):
        return None
    return int(value) if len(value) <= 18 else _HUGE


class Handler(BaseHTTPRequestHandler):
    server: "PlaygroundServer"
    protocol_version = "HTTP/1.1"
    server_version = "promptkit-playground"

    def setup(self) -> None:
        self.timeout = self.server.socket_timeout  # StreamRequestHandler sets it on the socket
        super().setup()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet unless asked
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data, ensure_ascii=True).encode("ascii"), "application/json")

    def _error(self, status: int, message: str, details: list | None = None) -> None:
        self._json(status, {"error": message, "details": details or []})

    def _allowed(self, api: bool) -> bool:
        """The Host (always) and the Origin (API requests) name this server; else answered 421 or 403."""
        hosts = self.server.hosts
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in hosts or len(self.headers.get_all("Host") or []) != 1:
            self.close_connection = True
            self._error(421, f"this server answers only requests for {' or '.join(sorted(hosts))}")
            return False
        origins = self.headers.get_all("Origin") or []
        if api and origins and (len(origins) != 1 or origins[0].strip().lower() not in self.server.origins):
            self.close_connection = True
            self._error(403, "requests from other sites are refused: open the playground's own page")
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if not self._allowed(api=path.startswith("/api/")):
            return
        if path in FILES:
            name, kind = FILES[path]
            self._send(200, (STATIC / name).read_bytes(), kind)
        elif path in CATALOGUES:
            self._answer(lambda: self.server.api.catalogue(CATALOGUES[path]))
        elif path in ROUTES:
            self._error(405, f"{path} takes a POST of a JSON object")
        else:
            self._error(404, f"no page {path!r}")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if not self._allowed(api=True):
            return
        if path not in ROUTES:
            self._drain()
            self._error(405 if path in FILES or path in CATALOGUES else 404, f"no API {path!r} takes a POST")
            return
        body = self._body()
        if body is None:
            return
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            self._error(415, "send JSON (Content-Type: application/json)")
            return
        try:
            data = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self._error(400, f"the body is not UTF-8 (byte {exc.start})")
            return
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, and numbers past int's digit limit
            self._error(400, f"the body is not JSON: {str(exc)[:200]}")
            return
        model, handler = ROUTES[path]
        try:
            request = model.model_validate(_readable(data))
        except ValidationError as exc:
            details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
            for d in details:
                d["message"] = d["message"].removeprefix("Value error, ")
            first = details[0] if details else {"field": "", "message": "invalid request"}
            where = f"{first['field']}: " if first["field"] else ""
            self._error(422, f"{where}{first['message']}", details)
            return
        self._answer(lambda: handler(self.server.api, request).model_dump())

    def _body(self) -> bytes | None:
        """The request's body, or None when it was refused (and answered)."""
        if self.headers.get("Transfer-Encoding") is not None:
            self.close_connection = True
            self._error(411, "send a Content-Length (chunked bodies are not read)")
            return None
        values = self.headers.get_all("Content-Length") or []
        if not values:
            self.close_connection = True
            self._error(411, "send a Content-Length")
            return None
        length = parse_length(values[0]) if len(values) == 1 else None
        if length is None:
            self.close_connection = True
            self._error(400, "the Content-Length is not a number of bytes (ASCII digits)")
            return None
        if length > MAX_BODY:
            self.close_connection = True
            self._error(413, f"the body is larger than the limit of {MAX_BODY:,} bytes")
            return None
        body = self._read(length)
        if body is None:
            self.close_connection = True
            self._error(408, f"the body did not arrive in time ({length:,} bytes announced)")
        return body

    def _read(self, length: int) -> bytes | None:
        """``length`` bytes, or None when they do not all arrive before the deadline (or the client leaves)."""
        deadline = time.monotonic() + self.server.socket_timeout + length / BODY_RATE
        chunks, left = [], length
        try:
            while left:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.connection.settimeout(min(self.server.socket_timeout, remaining))
                data = self.rfile.read1(min(left, 1 << 16))
                if not data:
                    return None
                chunks.append(data)
                left -= len(data)
        except OSError:  # TimeoutError included
            return None
        finally:
            self.connection.settimeout(self.server.socket_timeout)
        return b"".join(chunks)

    def _answer(self, produce) -> None:
        try:
            self._json(200, produce())
        except ApiError as exc:
            if exc.status == 503:
                self.close_connection = True
            self._error(exc.status, exc.message, exc.details)
        except Exception as exc:  # a promptkit bug: said, and the server goes on
            self._error(500, f"promptkit failed on this request ({type(exc).__name__}: {exc})")

    def _drain(self) -> None:
        """Read and drop the body of a request answered without it, when it is small; else end the connection."""
        length = parse_length(self.headers.get("Content-Length"))
        if length is not None and length <= MAX_BODY and self._read(length) is not None:
            return
        self.close_connection = True


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _readable(data):
    """Lone surrogates (a browser's string can hold them; JSON escapes them) as U+FFFD, which keeps every
    UTF-16 offset where it was; the analysis then says the text holds characters that are not text."""
    def fix(value):
        return _LONE_SURROGATE.sub("\ufffd", value) if isinstance(value, str) and not value.isascii() else value

    if isinstance(data, dict):
        return {k: [fix(v) for v in value] if isinstance(value, list) else fix(value) for k, value in data.items()}
    return data


class PlaygroundServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = REQUEST_QUEUE_SIZE

    def __init__(self, port: int = 0, verbose: bool = False, host: str = "127.0.0.1",
                 socket_timeout: float = SOCKET_TIMEOUT) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)
        self.api = Api()
        self.verbose = verbose
        self.socket_timeout = socket_timeout
        bound, port = self.server_address[:2]
        names = [f"[{bound}]" if ":" in bound else bound, "localhost"]
        self.hosts = frozenset(f"{name}:{port}" for name in names)
        self.origins = frozenset(f"http://{h}" for h in self.hosts)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def handle_error(self, request, client_address) -> None:
        """One line, not socketserver's traceback: a client that leaves mid-answer is no server error."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        sys.stderr.write(f"promptkit playground: a request from {client_address[0]} failed: "
                         f"{type(exc).__name__}: {exc}\n")

    def start(self) -> "PlaygroundServer":
        """Serve from a background thread (tests, embedding); :meth:`stop` ends it."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.api.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
