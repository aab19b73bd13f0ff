"""The analysis process: ``analysis`` run in a child with a memory and a time limit.

Why a child: a server must outlive any document, and a document may cost more than a server can pay (lint
memory grows with the size of the text, and one slow path in any rule would stall every editor). The child runs under ``RLIMIT_AS``; a request that runs out of memory or time ends the child,
the caller gets a :class:`WorkerError` with the reason (shown as a finding), and the next request starts a
fresh child. Requests go one at a time over a pipe: a 4-byte length, then JSON (ASCII, so text that holds
lone surrogates from undecodable bytes crosses intact).

The child keeps the documents it has seen (by key and version), so an edit sends the text once and every
later request about that version (completion, hover, code actions) sends only its key.

``bundled_only`` (the playground's processes): documents are resolved with bundled profiles and tag databases
only, whatever their settings or directives say; a path, a folder or a tag source is a finding, never opened.
"""

from __future__ import annotations

import json
import os
import selectors
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .documents import Settings

DEFAULT_MEMORY_MB = 3072
_HEADER = struct.Struct(">I")
MAX_MESSAGE = 256 * 2 ** 20


class WorkerError(RuntimeError):
    """A request the analysis process could not answer: ``kind`` is ``timeout``, ``memory``, ``crash``,
    ``bad-request`` or ``internal``."""

    def __init__(self, message: str, kind: str = "internal") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class DocumentRef:
    """A document as the caller knows it: the child is sent ``text`` only for a version it has not seen."""

    key: str
    version: int
    text: str
    path: str | None = None
    settings: Settings = field(default_factory=Settings)

    def wire(self, with_text: bool) -> dict:
        return {"key": self.key, "version": self.version, "path": self.path,
                "settings": self.settings.model_dump(), "text": self.text if with_text else None}


def default_timeout(size: int) -> float:
    """Seconds a request may take: lint costs ~13 us per character on an idle machine (13 s a megabyte); leave
    room for a busy one (a shared 2-core machine is several times slower)."""
    return 30.0 + 100.0 * size / 2 ** 20


# -- the caller's side ------------------------------------------------------------------------------------

class Worker:
    """A client of one analysis process (started on first use, restarted after a failure). Thread-safe:
    requests are answered one at a time."""

    def __init__(self, name: str = "analysis", memory_mb: int | None = None, warm_profile: str | None = None,
                 bundled_only: bool = False) -> None:
        self.name = name
        self.bundled_only = bundled_only
        self.memory_mb = memory_mb or int(os.environ.get("PROMPTKIT_EDITOR_MEMORY_MB", DEFAULT_MEMORY_MB))
        self.warm_profile = warm_profile
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._sent: dict[str, int] = {}
        self.restarts = 0

    @property
    def busy(self) -> bool:
        """A request is being answered (or the process started) now."""
        return self._lock.locked()

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "promptkit.editing.worker", "--memory-mb", str(self.memory_mb),
             *(["--bundled-only"] if self.bundled_only else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
        self._sent = {}
        if self.warm_profile:
            self._roundtrip({"method": "warm", "params": {"profile": self.warm_profile}}, 120.0)
        return self._proc

    def warm(self) -> None:
        """Start the process and load the profile's tag database now (call from a background thread)."""
        self.call("ping", timeout=120.0)

    def call(self, method: str, params: dict | None = None, doc: DocumentRef | None = None,
             timeout: float | None = None) -> Any:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                if self._proc is not None:
                    self.restarts += 1
                self._start()
            size = len(doc.text) if doc is not None else 0
            limit = timeout if timeout is not None else default_timeout(size)
            message: dict[str, Any] = {"method": method, "params": params or {}}
            if doc is not None:
                message["doc"] = doc.wire(self._sent.get(doc.key) != doc.version)
            reply = self._roundtrip(message, limit)
            if not reply.get("ok") and reply.get("kind") == "need-text" and doc is not None:
                message["doc"] = doc.wire(True)
                reply = self._roundtrip(message, limit)
            if doc is not None:
                self._sent[doc.key] = doc.version
                if len(self._sent) > 64:
                    self._sent.pop(next(iter(self._sent)))
            if not reply.get("ok") and reply.get("kind") == "memory":
                self._kill()  # the child exits after a MemoryError; the next request starts a fresh one
            if not reply.get("ok"):
                raise WorkerError(reply.get("error", "the analysis failed"), reply.get("kind", "internal"))
            return reply.get("result")

    def forget(self, key: str) -> None:
        """The caller closed a document: it will be sent whole if it comes back."""
        with self._lock:
            self._sent.pop(key, None)

    def _roundtrip(self, message: dict, limit: float) -> dict:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        body = json.dumps(message, ensure_ascii=True).encode("ascii")
        try:
            proc.stdin.write(_HEADER.pack(len(body)) + body)
            proc.stdin.flush()
            header = self._read(proc, _HEADER.size, time.monotonic() + limit, limit)
            (length,) = _HEADER.unpack(header)
            data = self._read(proc, length, time.monotonic() + limit, limit)
        except (BrokenPipeError, OSError) as exc:
            self._kill()
            raise WorkerError(f"the analysis process stopped ({exc})", "crash") from None
        return json.loads(data)

    def _read(self, proc: subprocess.Popen, n: int, deadline: float, limit: float) -> bytes:
        chunks: list[bytes] = []
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while n > 0:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self._kill()
                    raise WorkerError(f"the analysis took longer than {limit:.0f} s and was stopped", "timeout")
                data = os.read(fd, min(n, 1 << 20))
                if not data:
                    code = proc.wait()
                    self._proc = None
                    why = "it ran out of memory" if code in (-9, 137, 3) else f"exit status {code}"
                    raise WorkerError(f"the analysis process stopped ({why})", "memory" if code == 3 else "crash")
                chunks.append(data)
                n -= len(data)
        return b"".join(chunks)

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                try:
                    self._proc.stdin.close()  # type: ignore[union-attr]
                    self._proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
                self._kill()


# -- the child's side -------------------------------------------------------------------------------------

class _Documents:
    """Documents by key: the latest version's text and its resolved form."""

    def __init__(self, limit: int = 32, bundled_only: bool = False) -> None:
        self.limit = limit
        self.bundled_only = bundled_only
        self.docs: OrderedDict[str, tuple[int, str, str | None, str, Any]] = OrderedDict()

    def get(self, wire: dict):
        from .analysis import resolve

        key, version = wire["key"], wire["version"]
        settings_key = json.dumps(wire["settings"], sort_keys=True)
        entry = self.docs.get(key)
        if wire.get("text") is None:
            if entry is None or entry[0] != version:
                return None
            text = entry[1]
        else:
            text = wire["text"]
        if entry is not None and entry[0] == version and entry[3] == settings_key and entry[2] == wire["path"]:
            self.docs.move_to_end(key)
            return entry[4]
        resolved = resolve(text, wire["path"], Settings(**wire["settings"]), bundled_only=self.bundled_only)
        self.docs[key] = (version, text, wire["path"], settings_key, resolved)
        self.docs.move_to_end(key)
        if len(self.docs) > self.limit:
            self.docs.popitem(last=False)
        return resolved


def _handle(method: str, params: dict, doc, documents: _Documents) -> Any:
    from . import analysis

    if method == "ping":
        return "pong"
    if method == "warm":
        from ..tokens.clip import clip_bpe

        resolved = analysis.resolve("1girl", None, Settings(profile=params.get("profile")),
                                    bundled_only=documents.bundled_only)
        if resolved.db is not None and params.get("full", True):
            resolved.db.suggest("1grl")  # the suggestion index's first rows and rapidfuzz
        clip_bpe().encode("1girl")
        analysis.lint(resolved)
        return "warm"
    if method == "rules":
        return analysis.rule_docs()
    if method == "profiles":
        from ..profiles import all_profiles

        return [{"id": p.id, "title": p.title, "dialect": p.dialect, "family": p.family} for p in all_profiles()]
    if doc is None:
        raise ValueError(f"{method} needs a document")
    if method == "lint":
        return {"findings": analysis.lint(doc), "mode": doc.mode, "profile": doc.profile.id if doc.profile else None,
                "dialect": doc.dialect, "segments": [[s.start, s.end, s.negative] for s in doc.prompts if not s.nested]}
    if method == "fix_all":
        return analysis.fix_all(doc, bool(params.get("unsafe")))
    if method == "format":
        return analysis.format_document(doc)
    if method == "complete":
        return analysis.complete(doc, int(params["offset"]), int(params.get("limit", 20)))
    if method == "hover":
        return analysis.hover(doc, int(params["offset"]))
    if method == "syntax":
        return analysis.syntax_spans(doc)
    if method in ("chunks", "conversions"):
        if not doc.usable or not doc.prompts:
            return None
        segment = doc.prompts[0]
        return analysis.chunk_view(doc, segment) if method == "chunks" else analysis.conversions(doc, segment)
    raise ValueError(f"unknown method {method!r}")


def serve(memory_mb: int, bundled_only: bool = False) -> None:
    """The child's loop: one request in, one answer out, until the caller closes the pipe."""
    try:
        import resource

        limit = memory_mb * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not on this platform
        pass
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by accident may corrupt the pipe
    # made before any request: when memory runs out, the answer that says so must not need any
    oom = json.dumps({"ok": False, "kind": "memory",
                      "error": f"the analysis ran out of memory (limit {memory_mb} MiB) and was stopped"}).encode()
    out_of_memory_reply = _HEADER.pack(len(oom)) + oom
    documents = _Documents(bundled_only=bundled_only)
    while True:
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        (length,) = _HEADER.unpack(header)
        if length > MAX_MESSAGE:
            return
        out_of_memory = False
        try:
            body = stdin.read(length)
            message = json.loads(body)
            wire = message.get("doc")
            doc = documents.get(wire) if wire is not None else None
            if wire is not None and doc is None:
                reply = {"ok": False, "kind": "need-text", "error": "send the text"}
            else:
                reply = {"ok": True, "result": _handle(message["method"], message.get("params") or {}, doc, documents)}
            data = json.dumps(reply, ensure_ascii=True).encode("ascii")
        except MemoryError:
            out_of_memory = True  # answered below, once this handler has let go of the request's objects
        except (KeyError, TypeError, ValueError) as exc:
            data = json.dumps({"ok": False, "kind": "bad-request", "error": f"{type(exc).__name__}: {exc}"}).encode()
        except Exception as exc:  # a library bug: reported to the caller, the child lives on
            data = json.dumps({"ok": False, "kind": "internal", "error": f"{type(exc).__name__}: {exc}"}).encode()
        if out_of_memory:  # a MemoryError can leave any state half-built: answer and start clean
            stdout.write(out_of_memory_reply)
            stdout.flush()
            os._exit(3)
        stdout.write(_HEADER.pack(len(data)) + data)
        stdout.flush()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="promptkit.editing.worker")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB)
    parser.add_argument("--bundled-only", action="store_true")
    args = parser.parse_args()
    serve(args.memory_mb, args.bundled_only)


if __name__ == "__main__":
    main()
