"""Framing fuzzed with hypothesis, at a bounded example count and derandomized (the same examples on every
machine): the language server's JSON-RPC reader (in this process) and the playground's HTTP server (on
127.0.0.1). ``tools/fuzz.py`` runs the same targets (``tests/fuzz_targets.py``) under atheris for longer."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_targets as targets
from promptkit.playground.server import PlaygroundServer


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# -- JSON-RPC frames ------------------------------------------------------------------------------------------

bodies = st.one_of(st.binary(min_size=1, max_size=60),
                   st.dictionaries(st.sampled_from(["jsonrpc", "id", "method", "params"]),
                                   st.one_of(st.integers(), st.text(max_size=10), st.none()), max_size=4)
                   .map(lambda d: json.dumps(d).encode()))
NEWLINES = [b"\r\n", b"\n"]


@st.composite
def good_frame(draw) -> tuple[bytes, bytes]:
    """A frame as clients write them (any case of the header name, spaces, Content-Type, CRLF or LF)."""
    body = draw(bodies)
    nl = draw(st.sampled_from(NEWLINES))
    name = draw(st.sampled_from([b"Content-Length", b"content-length", b"CONTENT-LENGTH"]))
    headers = [name + b":" + draw(st.sampled_from([b" ", b"", b"  "])) + b"%d" % len(body)]
    if draw(st.booleans()):
        headers.insert(draw(st.integers(0, 1)), b"Content-Type: application/vscode-jsonrpc; charset=utf-8")
    return nl.join(headers) + nl + nl + body, body


@fuzz(300)
@given(st.lists(good_frame(), max_size=5))
def test_well_formed_frames_are_read_exactly(frames):
    assert targets.check_frames(b"".join(f for f, _ in frames)) == [b for _, b in frames]


LENGTHS = [b"99999999999", b"-5", b"\xc2\xb2", b"", b"0", b"1e3", b"9" * 5000, b"12 34", b"+3", b"0x10"]
bad_frames = st.one_of(
    st.tuples(st.sampled_from(LENGTHS), bodies).map(lambda t: b"Content-Length: " + t[0] + b"\r\n\r\n" + t[1]),
    bodies.map(lambda b: b"Content-Lenght: %d\r\n\r\n" % len(b) + b),
    bodies, st.binary(max_size=80).filter(lambda b: b"content-length:" not in b.lower()))


@fuzz(300)
@given(st.lists(st.tuples(bad_frames, good_frame()), max_size=4), good_frame())
def test_a_refused_frame_costs_no_more_than_itself(pairs, last):
    """After each frame that cannot be read, the next good frame is read: every good frame comes through, unless
    a bad one holds a ``Content-Length:`` past its start (that one may swallow what follows)."""
    data = b"".join(bad + good for bad, (good, _) in pairs) + last[0]
    got = targets.check_frames(data)
    if all(bad.lower().find(b"content-length:", 1) < 0 for bad, _ in pairs):
        assert got == [body for _, (_, body) in pairs] + [last[1]]


@fuzz(300)
@given(st.binary(max_size=300))
def test_any_bytes_are_read_in_bounds(data):
    targets.check_frames(data)


# -- HTTP requests to the playground ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def playground():
    old = os.environ.get("PROMPTKIT_EDITOR_MEMORY_MB")
    os.environ["PROMPTKIT_EDITOR_MEMORY_MB"] = "1200"
    server = PlaygroundServer(socket_timeout=2.0).start()
    try:
        yield server
    finally:
        server.stop()
        if old is None:
            os.environ.pop("PROMPTKIT_EDITOR_MEMORY_MB", None)
        else:
            os.environ["PROMPTKIT_EDITOR_MEMORY_MB"] = old


JSON_BODIES = [b'{"prompt": "1girl, long hiar"}', b'{"text": "1g", "offset": 2}', b'{"text": "ab", "all": true}',
               b"{}", b"[]", b'{"prompt": ' + b"1" * 5000 + b"}", b'{"prompt": "# promptkit: profile=/etc/x\\n1"}',
               b'{"prompt": "\xff"}', b"{", b"null", b'{"profile": "../../x"}']


@st.composite
def http_request(draw, port: int) -> bytes:
    method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS", b"P\xc3\x96ST", b""]))
    path = draw(st.sampled_from([b"/api/analyze", b"/api/fix", b"/api/format", b"/api/complete", b"/api/hover",
                                 b"/api/profiles", b"/", b"/static/app.js", b"/../../etc/passwd", b"/x?y=1", b"*"]))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 extra", b""]))
    body = draw(st.one_of(st.sampled_from(JSON_BODIES), st.binary(max_size=40)))
    headers = []
    host = draw(st.sampled_from([b"127.0.0.1:%d" % port, b"localhost:%d" % port, b"evil.example", None]))
    if host is not None:
        headers.append(b"Host: " + host)
    length = draw(st.sampled_from([b"%d" % len(body), b"%d" % (len(body) + 5), b"%d" % max(0, len(body) - 3),
                                   b"\xb2", b"-1", b"99999999999999999999", b"", None]))
    if length is not None:
        headers.append(b"Content-Length: " + length)
    headers += draw(st.lists(st.sampled_from([
        b"Content-Type: application/json", b"Content-Type: text/plain", b"Origin: http://evil.example",
        b"Origin: http://127.0.0.1:%d" % port, b"Origin: null", b"Transfer-Encoding: chunked",
        b"X-" + b"a" * 70000 + b": 1", b"no colon here", b"Content-Length: 7"]), max_size=3))
    head = b" ".join(p for p in (method, path, version) if p)
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    request = head + newline + newline.join(headers) + newline + newline + body
    if draw(st.booleans()):  # cut short
        request = request[:draw(st.integers(0, len(request)))]
    return request


def test_http_framing_is_answered_with_4xx_never_a_hang_or_a_traceback(playground, capfd):
    port = playground.server_address[1]
    seen: set[int] = set()

    @fuzz(150)
    @given(http_request(port))
    def one(data):
        seen.update(targets.check_http(port, data))

    one()
    assert {200, 403, 411, 421}.issubset(seen), str(sorted(seen))  # the examples reach the API, and its refusals
    assert targets.check_http(port, b"GET /api/profiles HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port) == [200]
    assert "Traceback" not in capfd.readouterr().err
