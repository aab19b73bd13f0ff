"""``promptkit playground`` as an attack surface (issue 23, items 1-5): requests that name files, DNS rebinding,
bursts of connections, malformed framing, and large texts that would hold up small ones. Traffic goes to
127.0.0.1 only; every test asserts the status code, and that the server answers the next request."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from pathlib import Path

import pytest
from playground_server import running_playground

from promptkit.editing.analysis import resolve
from promptkit.editing.documents import Settings
from promptkit.playground.api import HEAVY_TEXT
from promptkit.playground.server import MAX_BODY, parse_length
from promptkit.tags.store import cache_dir

SOCKET_TIMEOUT = 1.5  # the fixture's: a client that stops sending is dropped after this many quiet seconds


@pytest.fixture(scope="module")
def server():
    with running_playground(socket_timeout=SOCKET_TIMEOUT) as playground:
        yield playground


def port(server) -> int:
    return server.server_address[1]


def send(server, data: bytes, timeout: float = 120.0) -> tuple[int, dict, http.client.HTTPResponse]:
    """Raw bytes to the server; (status, JSON answer, the response). Raises if the connection drops unanswered."""
    sock = socket.create_connection(("127.0.0.1", port(server)), timeout=timeout)
    try:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return response.status, json.loads(body) if body else {}, response
    finally:
        sock.close()


_OWN = "own"


def request(server, method: str, path: str, body: bytes = b"", headers: dict | None = None,
            host: str | None = _OWN) -> bytes:
    """A request's bytes; ``host`` None sends no Host header."""
    head = {"Host": f"127.0.0.1:{port(server)}" if host == _OWN else host, "Content-Type": "application/json",
            "Content-Length": str(len(body)), **(headers or {})}
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in head.items() if v is not None]
    head_text = "\r\n".join(lines) + "\r\n\r\n"
    try:
        return head_text.encode("latin-1") + body  # as http.server reads headers: '\xb2' arrives as '²'
    except UnicodeEncodeError:
        return head_text.encode("utf-8") + body


def post(server, path: str, data, **kw) -> tuple[int, dict]:
    status, answer, _ = send(server, request(server, "POST", path, json.dumps(data).encode(), **kw))
    return status, answer


def still_serving(server) -> bool:
    return post(server, "/api/analyze", {"prompt": "long hiar", "profile": "kivotos-xl-2"})[0] == 200


# -- 1. only bundled profiles, by id --------------------------------------------------------------------------

@pytest.fixture()
def evil(tmp_path: Path) -> dict:
    """A profile file whose tag source is a CSV holding a secret first line, and the same names that do not exist."""
    secret = tmp_path / "secret.csv"
    secret.write_text("TOP-SECRET-LINE,0,0\n")
    profile = tmp_path / "evil.toml"
    profile.write_text(f'title = "evil"\nextends = "sdxl-base"\ntag_sources = ["{secret}"]\n')
    return {"exists": str(profile), "missing": str(tmp_path / "nothing.toml"), "dir": tmp_path}


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


def test_requests_name_bundled_profiles_only_in_the_field_and_in_the_text(server, evil):
    before = snapshot(cache_dir())
    relative = "../../../../../../../../" + evil["exists"].lstrip("/").removesuffix(".toml")
    answers = {}
    for name in ("exists", "missing"):
        ref = evil[name]
        answers[name] = [
            post(server, "/api/analyze", {"prompt": "1girl", "profile": ref}),
            post(server, "/api/analyze", {"prompt": f"# promptkit: profile={ref}\n1girl"}),
            post(server, "/api/analyze", {"negative_prompt": f"# promptkit: profile={ref}\nworst quality"}),
            post(server, "/api/hover", {"text": f"# promptkit: profile={ref}\n1girl", "offset": 30}),
            post(server, "/api/fix", {"text": f"# promptkit: profile={ref}\nlong hiar", "all": True}),
        ]
    answers["relative"] = [post(server, "/api/analyze", {"prompt": f"# promptkit: profile={relative}\n1girl"}),
                           post(server, "/api/complete", {"text": f"# promptkit: profile={relative}\n1g",
                                                          "offset": 5})]
    for name, got in answers.items():
        for status, answer in got:
            assert status == 422 and "unknown profile" in answer["error"], (name, answer)
            assert "TOP-SECRET" not in json.dumps(answer)
    # the same answer whether the file exists or not: only the name, as sent, differs
    assert [a["error"].replace(evil["exists"], "X") for _, a in answers["exists"]] == \
        [a["error"].replace(evil["missing"], "X") for _, a in answers["missing"]]
    assert snapshot(cache_dir()) == before  # no tag store compiled from the CSV
    assert sorted(p.name for p in evil["dir"].iterdir()) == ["evil.toml", "secret.csv"]
    status, answer = post(server, "/api/analyze", {"prompt": "# promptkit: profile=pony-v6\nscore_9, 1girl"})
    assert status == 200 and answer["prompt"]["findings"] == []  # a bundled id in the text is honoured


def test_the_playgrounds_analysis_refuses_files_whatever_its_settings_say(evil):
    """The second wall: a document resolved ``bundled_only`` opens no profile file, tag source or folder."""
    before = snapshot(cache_dir())
    for settings, text in [(Settings(profile=evil["exists"]), "1girl"),
                           (Settings(), f"# promptkit: profile={evil['exists']}\n1girl"),
                           (Settings(tag_sources=[str(evil["dir"] / "secret.csv")]), "1girl"),
                           (Settings(embeddings=[str(evil["dir"])]), "1girl"),
                           (Settings(loras=[str(evil["dir"])]), "1girl")]:
        doc = resolve(text, None, settings, bundled_only=True)
        assert doc.profile is None and doc.db is None and [p.code for p in doc.problems] == ["settings"]
    assert snapshot(cache_dir()) == before


# -- 2. DNS rebinding: Host and Origin -------------------------------------------------------------------------

def test_only_the_bound_host_and_the_pages_own_origin_are_answered(server):
    p = port(server)
    analyze = {"prompt": "1girl"}
    for host in ("evil.example", f"evil.example:{p}", f"127.0.0.1:{p + 1}", "127.0.0.1", "", None):
        for method, path in (("POST", "/api/analyze"), ("GET", "/api/profiles"), ("GET", "/")):
            body = json.dumps(analyze).encode() if method == "POST" else b""
            status, _, _ = send(server, request(server, method, path, body, host=host))
            assert status == 421, (host, path)
    for origin in ("http://evil.example", f"http://evil.example:{p}", "null", f"http://127.0.0.1:{p + 1}",
                   f"https://127.0.0.1:{p}"):
        assert post(server, "/api/analyze", analyze, headers={"Origin": origin})[0] == 403, origin
        status, _, _ = send(server, request(server, "GET", "/api/rules", headers={"Origin": origin}))
        assert status == 403, origin
    for host in (f"127.0.0.1:{p}", f"localhost:{p}", f"LOCALHOST:{p}"):
        for origin in (None, f"http://127.0.0.1:{p}", f"http://localhost:{p}"):
            assert post(server, "/api/analyze", analyze, host=host, headers={"Origin": origin})[0] == 200
    status, answer, _ = send(server, request(server, "GET", "/api/profiles", headers={"Origin": f"http://localhost:{p}"}))
    assert status == 200 and "pony-v6" in [x["id"] for x in answer]


# -- 3. a burst of parallel requests -----------------------------------------------------------------------

def test_fifty_parallel_analyze_requests_are_all_answered(server):
    assert server.request_queue_size >= 50
    results: list = [None] * 50
    body = json.dumps({"prompt": "1girl, long hiar, smile", "profile": "kivotos-xl-2"}).encode()
    start = threading.Barrier(50)

    def one(i: int) -> None:
        start.wait()
        try:
            results[i] = send(server, request(server, "POST", "/api/analyze", body), timeout=300)[0]
        except OSError as exc:  # ConnectionResetError with the old backlog of 5
            results[i] = repr(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(400)
    assert results == [200] * 50


# -- 4. malformed requests: a 4xx, never a dropped connection or a traceback ------------------------------

def test_content_length_is_ascii_digits():
    assert [parse_length(v) for v in ("12", " 7 ", "0", "²", "١٢", "-5", "+5", "1e3", "0x10", "", "1 2")] == \
        [12, 7, 0, None, None, None, None, None, None, None, None]
    assert parse_length("9" * 5000) > MAX_BODY  # no int() of 5,000 digits


@pytest.mark.parametrize("header, status", [
    ("\u00b2", 400), ("\u0662", 400), ("-5", 400), ("abc", 400), ("99999999999999", 413),
    ("9" * 5000, 413), (str(MAX_BODY + 1), 413), (None, 411),
])
def test_bad_content_lengths_get_a_4xx(server, capfd, header, status):
    for path in ("/api/analyze", "/api/nothing"):  # the route, and a 404 that drains the body
        got, answer, response = send(server, request(server, "POST", path, b"{}", headers={"Content-Length": header}))
        assert got == (status if path == "/api/analyze" else 404) and answer["error"]
        assert response.getheader("Connection") == "close" or path == "/api/nothing"
    assert still_serving(server)
    assert "Traceback" not in capfd.readouterr().err


def test_malformed_bodies_get_400(server, capfd):
    for body in (b'{"prompt": "x", "negative_prompt": ' + b"7" * 5000 + b"}",  # past int()'s 4,300 digits
                 b'{"prompt": ' + b"1" * 5000 + b"}", b"[" * 100_000, b'{"prompt": 1e999999}'):
        status, answer, _ = send(server, request(server, "POST", "/api/analyze", body))
        assert status in (400, 422) and answer["error"], body[:40]
    chunked = request(server, "POST", "/api/analyze", headers={"Content-Length": None, "Transfer-Encoding": "chunked"})
    assert send(server, chunked + b"2\r\n{}\r\n0\r\n\r\n")[0] == 411
    assert still_serving(server)
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_that_never_arrives_does_not_hold_a_thread(server):
    sock = socket.create_connection(("127.0.0.1", port(server)), timeout=60)
    try:
        head = request(server, "POST", "/api/analyze", headers={"Content-Length": "1000"})
        sock.sendall(head + b'{"prompt":')  # 10 of the 1,000 bytes announced, then silence
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 408 and json.loads(response.read())["error"]
    finally:
        sock.close()
    idle = socket.create_connection(("127.0.0.1", port(server)), timeout=60)
    try:
        assert idle.recv(100) == b""  # a connection that sends nothing is closed by the server
    finally:
        idle.close()
    assert still_serving(server)


# -- 5. large texts do not starve small ones ----------------------------------------------------------------

def test_a_small_analyze_is_answered_while_a_large_one_runs(server):
    assert still_serving(server)  # the small requests' process is started and warm
    large = ("masterpiece, 1girl, (long hair:1.2), pony tail, " * 8000)[:HEAVY_TEXT * 4]
    done: list[str] = []
    statuses: dict[str, int] = {}

    def run(name: str, prompt: str) -> None:
        statuses[name] = post(server, "/api/analyze", {"prompt": prompt, "profile": "kivotos-xl-2"})[0]
        done.append(name)

    big = threading.Thread(target=run, args=("large", large))
    big.start()
    while not server.api.heavy_worker.busy and big.is_alive():  # the large one holds its process now
        big.join(0.01)
    small = threading.Thread(target=run, args=("small", "1girl, long hiar"))
    small.start()
    small.join(300)
    big.join(300)
    assert done == ["small", "large"] and statuses == {"small": 200, "large": 200}
