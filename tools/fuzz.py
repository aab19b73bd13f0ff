"""Coverage-guided fuzzing of parse, lint (every profile), fix, fmt, convert, the infotext/PNG readers, and the
servers' framing: the language server's JSON-RPC reader and the playground's HTTP server (on 127.0.0.1 only).

    pip install atheris                      # the `fuzz` extra: pip install -e ".[fuzz]"
    python tools/fuzz.py -max_total_time=300 # five minutes; libFuzzer options pass through
    python tools/fuzz.py --stop-on-crash -runs=100000
    python tools/fuzz.py --report            # the findings of the last run, grouped

Each input picks a target from its first byte. Text targets get a prompt built from the input by a small
grammar of every dialect's constructs (weights, groups, schedules, alternation, BREAK, AND, compel signs and
blends, LoRA names, escapes) or the raw bytes decoded with lone surrogates allowed (what undecodable stdin
becomes); the PNG target gets a PNG assembled from fuzzed chunks; the JSON-RPC target gets frames with fuzzed headers and
bodies or the raw bytes; the HTTP target gets a request of fuzzed method, path, version, headers and body, or
the raw bytes, sent to a playground this process starts on 127.0.0.1 (``--only http`` / ``--only frames`` run
one target alone). The targets and the exceptions they may
raise are in ``tests/fuzz_targets.py``, shared with the hypothesis tests. An unexpected exception is
recorded (target, type, message, input) and the run goes on; the findings and the number of inputs run
are kept in ``fuzz-findings.json`` in the current folder (``--report`` prints them grouped).
"""

from __future__ import annotations

import atexit
import json
import struct
import sys
import traceback
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import atheris  # noqa: E402

with atheris.instrument_imports(include=["promptkit"]):
    import fuzz_targets as targets  # noqa: E402
    import promptkit  # noqa: E402,F401
    from promptkit import infotext, linter, syntax, tokens  # noqa: E402,F401
    from promptkit.lsp import framing  # noqa: E402,F401
    from promptkit.playground import server as playground  # noqa: E402,F401

PIECES = ["1girl", "long hair", "kazusa (blue archive)", "score_9", "hires", "smile", "İ", "日本", ":d", "^_^",
          "<lora:x:0.5>", "embedding:x", "BREAK", "AND", "\\", "(", ")", "[", "]", "{", "}", ":", "|", '"', "+", "-",
          ",", " ", "\n", "1.2", "0.5", "-1", "1e309", ".blend(", "\udce9", "\ud800"]
STOP_ON_CRASH = "--stop-on-crash" in sys.argv
if STOP_ON_CRASH:
    sys.argv.remove("--stop-on-crash")
TARGETS = ["parse", "convert", "lint", "fix+fmt", "infotext", "png", "frames", "http"]
ONLY = None
if "--only" in sys.argv:
    ONLY = TARGETS.index(sys.argv[sys.argv.index("--only") + 1])
    del sys.argv[sys.argv.index("--only"):sys.argv.index("--only") + 2]
RUNS = Counter()
FINDINGS: dict[tuple[str, str, str], dict] = {}


def grammar(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> str:
    choice = fdp.ConsumeIntInRange(0, 11 if depth < 6 else 1)
    if choice == 0:
        return PIECES[fdp.ConsumeIntInRange(0, len(PIECES) - 1)]
    if choice == 1:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 12))
    inner = grammar(fdp, depth + 1)
    weight = PIECES[fdp.ConsumeIntInRange(len(PIECES) - 8, len(PIECES) - 3)]
    if choice == 2:
        return f"({inner}:{weight})"
    if choice == 3:
        return f"({inner})"
    if choice == 4:
        return f"[{inner}]"
    if choice == 5:
        return "{" + inner + "}"
    if choice == 6:
        return f"[{inner}:{grammar(fdp, depth + 1)}:{weight}]"
    if choice == 7:
        return f"[{inner}|{grammar(fdp, depth + 1)}]"
    if choice == 8:
        return f"({inner})" + "+-"[fdp.ConsumeIntInRange(0, 1)] * fdp.ConsumeIntInRange(1, 3)
    if choice == 9:
        return f'("{inner}", "{grammar(fdp, depth + 1)}").blend(1, 0.5)'
    separator = [", ", " ", "\n", " BREAK ", " AND "][fdp.ConsumeIntInRange(0, 4)]
    return separator.join([inner] + [grammar(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(1, 3))])


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(fdp: atheris.FuzzedDataProvider) -> bytes:
    data = b"\x89PNG\r\n\x1a\n"
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        kind = [b"tEXt", b"zTXt", b"iTXt", b"IDAT"][fdp.ConsumeIntInRange(0, 3)]
        key = [b"parameters", b"prompt", b"workflow", b""][fdp.ConsumeIntInRange(0, 3)]
        body = grammar(fdp).encode("utf-8", "surrogatepass") if fdp.ConsumeBool() else fdp.ConsumeBytes(30)
        if kind in (b"zTXt", b"iTXt") and fdp.ConsumeBool():
            body = zlib.compress(body)
        head = {b"tEXt": b"\0", b"zTXt": b"\0\0", b"iTXt": b"\0" + bytes([fdp.ConsumeIntInRange(0, 1)]) + b"\0\0\0"}
        data += _chunk(kind, key + head.get(kind, b"") + body)
    data += _chunk(b"IEND", b"")
    return data[:len(data) - fdp.ConsumeIntInRange(0, 20)]


LENGTHS = [b"%d", b"99999999999", b"-1", b"\xc2\xb2", b"", b"0", b"9" * 5000, b"1e3", b"%d0", b" %d "]


def rpc_frames(fdp: atheris.FuzzedDataProvider) -> bytes:
    out = b""
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        body = grammar(fdp).encode("utf-8", "surrogatepass") if fdp.ConsumeBool() else fdp.ConsumeBytes(40)
        length = LENGTHS[fdp.ConsumeIntInRange(0, len(LENGTHS) - 1)]
        length = length % len(body) if b"%d" in length else length
        name = [b"Content-Length", b"content-length", b"Content-Lenght", b"Content-Type", b""][fdp.ConsumeIntInRange(0, 4)]
        newline = [b"\r\n", b"\n", b"\r"][fdp.ConsumeIntInRange(0, 2)]
        out += name + b": " + length + newline + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8)) + newline + body
    return out


_PLAYGROUND = None


def playground_port() -> int:
    global _PLAYGROUND
    if _PLAYGROUND is None:
        _PLAYGROUND = playground.PlaygroundServer(socket_timeout=2.0).start()
        atexit.register(_PLAYGROUND.stop)
    return _PLAYGROUND.server_address[1]


def http_request(fdp: atheris.FuzzedDataProvider, port: int) -> bytes:
    pick = lambda options: options[fdp.ConsumeIntInRange(0, len(options) - 1)]  # noqa: E731
    body = grammar(fdp).encode("utf-8", "surrogatepass") if fdp.ConsumeBool() else fdp.ConsumeBytes(60)
    if fdp.ConsumeBool():
        body = b'{"prompt": ' + json.dumps(body.decode("utf-8", "replace")).encode() + b"}"
    lines = [pick([b"GET", b"POST", b"PUT", b"HEAD", b""]) + b" " + pick([
        b"/api/analyze", b"/api/fix", b"/api/format", b"/api/complete", b"/api/hover", b"/api/profiles", b"/",
        b"/static/app.js", b"/../x", b"*"]) + b" " + pick([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9.9", b""])]
    if fdp.ConsumeBool():
        lines.append(b"Host: " + pick([b"127.0.0.1:%d" % port, b"localhost:%d" % port, b"evil.example", b""]))
    length = pick(LENGTHS)
    lines.append(b"Content-Length: " + (length % len(body) if b"%d" in length else length))
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        lines.append(pick([b"Content-Type: application/json", b"Origin: http://evil.example", b"Origin: null",
                           b"Origin: http://127.0.0.1:%d" % port, b"Transfer-Encoding: chunked", b"Expect: 100-continue",
                           fdp.ConsumeBytes(20)]))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = fdp.ConsumeIntInRange(0, len(TARGETS) - 1) if ONLY is None else ONLY
    name = TARGETS[target]
    if target == 5:
        payload: object = png(fdp)
    elif target == 6:
        payload = rpc_frames(fdp) if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.remaining_bytes())
    elif target == 7:
        port = playground_port()
        payload = http_request(fdp, port) if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.remaining_bytes())
    else:
        payload = grammar(fdp) if fdp.ConsumeBool() else fdp.ConsumeUnicode(fdp.remaining_bytes())
    RUNS[name] += 1
    try:
        if target == 0:
            targets.check_parse(payload)
        elif target == 1:
            targets.check_convert(payload)
        elif target == 2:
            profiles = targets.profiles()
            targets.check_lint(payload, profiles[len(payload) % len(profiles)], negative=len(payload) % 2 == 1)
        elif target == 3:
            profiles = targets.profiles()
            targets.check_fix_and_fmt(payload, profiles[len(payload) % len(profiles)])
        elif target == 4:
            targets.check_infotext(payload)
        elif target == 5:
            targets.check_png(payload)
        elif target == 6:
            targets.check_frames(payload)
        else:
            targets.check_http(port, payload, timeout=30.0)
    except Exception as exc:
        if STOP_ON_CRASH:
            raise
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        key = (name, type(exc).__name__, where)
        entry = FINDINGS.setdefault(key, {"target": name, "exception": type(exc).__name__, "where": where,
                                          "message": str(exc)[:200], "input": repr(payload)[:300], "count": 0})
        entry["count"] += 1
        if entry["count"] == 1:
            print(f"fuzz: new finding: {name}: {type(exc).__name__} at {where}: {str(exc)[:120]}", file=sys.stderr)
            report(quiet=True)
    if sum(RUNS.values()) % 1000 == 0:
        report(quiet=True)


def report(quiet: bool = False) -> None:
    """Write fuzz-findings.json (libFuzzer ends the process without atexit: this runs every 1,000 inputs)."""
    total = sum(RUNS.values())
    Path("fuzz-findings.json").write_text(json.dumps({"runs": dict(RUNS), "findings": list(FINDINGS.values())},
                                                     ensure_ascii=False, indent=1))
    if quiet:
        return
    print(f"\nfuzz: {total:,} inputs ran ({', '.join(f'{k} {v:,}' for k, v in sorted(RUNS.items()))}); "
          f"{len(FINDINGS)} distinct finding(s)", file=sys.stderr)
    for entry in sorted(FINDINGS.values(), key=lambda e: -e["count"]):
        print(f"  {entry['target']}: {entry['exception']} at {entry['where']} x{entry['count']}: "
              f"{entry['message'][:120]}\n    input: {entry['input'][:160]}", file=sys.stderr)


def print_report() -> None:
    """``python tools/fuzz.py --report``: the findings of the last run in this folder, grouped."""
    data = json.loads(Path("fuzz-findings.json").read_text())
    RUNS.update(data["runs"])
    for entry in data["findings"]:
        FINDINGS[(entry["target"], entry["exception"], entry["where"])] = entry
    report()


if __name__ == "__main__":
    if "--report" in sys.argv:
        print_report()
        sys.exit(0)
    targets.db()  # opened before the run, not on the first input
    import logging

    logging.getLogger("promptkit.lsp.framing").setLevel(logging.ERROR)  # a refused frame is the expected case
    atexit.register(report)
    if not any(a.startswith("-max_len") for a in sys.argv):
        sys.argv += ["-max_len=2048", "-len_control=0"]  # long inputs from the start
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
