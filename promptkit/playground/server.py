"""``promptkit playground``: the page and its JSON API on 127.0.0.1, from the standard library's http.server.

Answers: 200 with JSON; 400 malformed JSON or a body that is not UTF-8; 404 no such page; 405 wrong method;
411 no Content-Length; 413 a body over the limit; 415 not ``application/json``; 409 a fix for a finding that
is not there (the text changed); 422 a request that does not validate, or a text the analysis could not
handle (out of memory or time); 500 a promptkit bug. Every error is ``{"error": message, "details": [...]}``.
The page's files ship in ``static/`` and are the only files served; the Content-Security-Policy allows
nothing from elsewhere, so the page works offline and loads nothing from a CDN.
"""

from __future__ import annotations

import json
import re
import threading
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


class Handler(BaseHTTPRequestHandler):
    server: "PlaygroundServer"
    protocol_version = "HTTP/1.1"
    server_version = "promptkit-playground"

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
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data, ensure_ascii=True).encode("ascii"), "application/json")

    def _error(self, status: int, message: str, details: list | None = None) -> None:
        self._json(status, {"error": message, "details": details or []})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
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
        if path not in ROUTES:
            self._drain()
            self._error(405 if path in FILES or path in CATALOGUES else 404, f"no API {path!r} takes a POST")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._error(411, "send a Content-Length")
            return
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._error(413, f"the body is {int(length):,} bytes; the limit is {MAX_BODY:,}")
            return
        body = self.rfile.read(int(length))
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            self._error(415, "send JSON (Content-Type: application/json)")
            return
        try:
            data = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self._error(400, f"the body is not UTF-8 (byte {exc.start})")
            return
        except (json.JSONDecodeError, RecursionError) as exc:
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

    def _answer(self, produce) -> None:
        try:
            self._json(200, produce())
        except ApiError as exc:
            self._error(exc.status, exc.message, exc.details)
        except Exception as exc:  # a promptkit bug: said, and the server goes on
            self._error(500, f"promptkit failed on this request ({type(exc).__name__}: {exc})")

    def _drain(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= MAX_BODY:
            self.rfile.read(int(length))
        else:
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

    def __init__(self, port: int = 0, verbose: bool = False) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.api = Api()
        self.verbose = verbose
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

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

