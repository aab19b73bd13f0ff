"""A bare JSON-RPC client for ``promptkit lsp``: raw bytes on the wire (for input no LSP library would send,
such as bytes that are not UTF-8) and wall-clock timings for bench/bench_lsp.py. Bounded: every wait has a
deadline, and ``close`` ends the server."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def server_command() -> list[str]:
    return [sys.executable, "-m", "promptkit.cli.main", "lsp"]


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RpcClient:
    def __init__(self, env: dict | None = None) -> None:
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
        full_env.update(env or {})
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(server_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=full_env, cwd=str(ROOT))
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 1
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line in (b"\r\n", b"\n"):
                    break
            body = out.read(length or 0)
            self.messages.put((time.perf_counter(), json.loads(body)))

    def send_raw(self, body: bytes) -> None:
        self.write(frame(body))

    def write(self, data: bytes) -> None:
        """Bytes on the wire as they are: framing included (or not)."""
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> float:
        sent = time.perf_counter()
        self.send_raw(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode())
        return sent

    def request(self, method: str, params: dict | None, timeout: float = 30.0) -> tuple[float, dict]:
        """Send a request; (seconds to the answer, the answer). Notifications that arrive meanwhile are kept."""
        rid = self.next_id
        self.next_id += 1
        sent = time.perf_counter()
        self.send_raw(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode())
        when, message = self.wait(lambda m: m.get("id") == rid and "method" not in m, timeout)
        return when - sent, message

    def wait(self, match, timeout: float = 30.0) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        kept = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching message from the server")
                when, message = self.messages.get(timeout=left)
                if match(message):
                    return when, message
                if "method" in message and "id" in message:  # a request from the server: answer null
                    self.send_raw(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": None}).encode())
                    continue
                kept.append((when, message))
        except queue.Empty:
            raise TimeoutError("no matching message from the server") from None
        finally:
            for item in kept:
                self.messages.put(item)

    def diagnostics(self, uri: str, version: int | None = None, timeout: float = 60.0) -> tuple[float, dict]:
        def match(m: dict) -> bool:
            return (m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
                    and (version is None or m["params"].get("version") == version))
        return self.wait(match, timeout)

    def initialize(self, options: dict | None = None) -> float:
        seconds, _ = self.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {},
                                                 "initializationOptions": options or {}}, timeout=60.0)
        self.notify("initialized", {})
        return seconds

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=10.0)
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        except (TimeoutError, OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
