"""``promptkit lsp`` with bytes no LSP library would send: a message body that is not UTF-8, JSON that is not
JSON. The server answers what it can and goes on serving."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pygls")
from lsp_wire import RpcClient  # noqa: E402


@pytest.fixture(scope="module")
def rpc():
    client = RpcClient()
    client.initialize({"promptkit": {"profile": "kivotos-xl-2", "debounce_ms": 0}})
    yield client
    client.close()


def test_invalid_utf8_in_a_document_is_read_as_replacement_characters(rpc: RpcClient):
    uri = "file:///tmp/promptkit-wire/bad.txt"
    body = json.dumps({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "prompt", "version": 1, "text": "1girl, XX smile, long hiar"}}}).encode()
    rpc.send_raw(body.replace(b"XX", b"\xff\xfe\xc3"))  # not UTF-8 (a lone lead byte, invalid bytes)
    _, message = rpc.diagnostics(uri, 1)
    codes = [d["code"] for d in message["params"]["diagnostics"]]
    assert "encoding" in codes and "PK201" in codes  # said, and the rest of the prompt still linted
    hint = next(d for d in message["params"]["diagnostics"] if d["code"] == "encoding")
    assert hint["range"]["start"] == {"line": 0, "character": 7}


def test_junk_messages_do_not_stop_the_server(rpc: RpcClient):
    rpc.send_raw(b"{this is not json")
    rpc.send_raw(json.dumps({"jsonrpc": "2.0", "id": 99, "method": "textDocument/hover",
                             "params": {"textDocument": {"uri": 5}, "position": "x"}}).encode())
    _, answer = rpc.wait(lambda m: m.get("id") == 99, timeout=30)
    assert "error" in answer  # invalid params: an error response, not silence
    seconds, answer = rpc.request("textDocument/hover", {"textDocument": {"uri": "file:///nowhere.txt"},
                                                         "position": {"line": 0, "character": 0}})
    assert answer.get("result") is None and "error" not in answer


# -- framing: a frame that cannot be read is refused, the next one is served (issue 23, item 6) ---------------

def hover_body(rid: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": "file:///nowhere.txt"}, "position": {"line": 0, "character": 0}}}).encode()


BAD_FRAMES = {
    "huge length": lambda body: b"Content-Length: 99999999999\r\n\r\n" + body,
    "misspelled header": lambda body: b"Content-Lenght: %d\r\n\r\n" % len(body) + body,
    "negative length": lambda body: b"Content-Length: -%d\r\n\r\n" % len(body) + body,
    "non-numeric length": lambda body: b"Content-Length: twelve\r\n\r\n" + body,
    "superscript digit": lambda body: "Content-Length: \u00b2\r\n\r\n".encode() + body,
    "5,000 digits": lambda body: b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n" + body,
    "no header at all": lambda body: body,
    "a header line of 100 KB": lambda body: b"X-Junk: " + b"x" * 100_000 + b"\r\n" + b"Content-Length: 5\r\n",
}


def test_frames_that_cannot_be_read_are_refused_and_the_next_one_is_served(rpc: RpcClient):
    for i, (name, bad) in enumerate(BAD_FRAMES.items()):
        rid = 1000 + i
        rpc.write(bad(hover_body(rid)))  # its id is never answered: the frame is refused
        seconds, answer = rpc.request("textDocument/hover", {"textDocument": {"uri": "file:///nowhere.txt"},
                                                             "position": {"line": 0, "character": 0}}, timeout=30)
        assert answer.get("result") is None and "error" not in answer, name
        assert rpc.proc.poll() is None, name
    with pytest.raises(TimeoutError):  # none of the refused frames was read as a message
        rpc.wait(lambda m: 1000 <= (m.get("id") or 0) < 1100, timeout=1)
    uri = "file:///tmp/promptkit-wire/after-bad-frames.txt"
    rpc.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "prompt", "version": 1,
                                                         "text": "1girl, long hiar"}})
    _, message = rpc.diagnostics(uri, 1)
    assert [d["code"] for d in message["params"]["diagnostics"]] == ["PK201"]


# -- a project configuration that cannot be used (issue 23, item 7) ------------------------------------------

@pytest.mark.parametrize("config", ["embeddings = 5\n", 'profile = "pony-v6"\ntag-sources = [1]\n', "profile = \n",
                                    "select = [1]\n", "[tool]\nx = 1\n" + "nonsense = true\n"])
def test_a_bad_project_config_is_one_diagnostic_on_it_and_the_server_serves(rpc: RpcClient, tmp_path, config):
    toml = tmp_path / "promptkit.toml"
    toml.write_text(config)
    uri = (tmp_path / "x.prompt").as_uri()
    text = "1girl, long hiar, <lora:x"
    rpc.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "prompt", "version": 1,
                                                         "text": text}})
    _, message = rpc.diagnostics(uri, 1)
    assert [d["code"] for d in message["params"]["diagnostics"]] == ["PK201"]  # linted with the editor's settings
    _, published = rpc.diagnostics(toml.as_uri())
    (diagnostic,) = published["params"]["diagnostics"]
    assert diagnostic["code"] == "settings" and "configuration is not used" in diagnostic["message"]
    _, shown = rpc.wait(lambda m: m.get("method") == "window/showMessage" and str(toml) in m["params"]["message"])
    for method in ("textDocument/hover", "textDocument/completion"):
        _, answer = rpc.request(method, {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 10}})
        assert "error" not in answer, answer
    _, answer = rpc.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                   "position": {"line": 0, "character": 2}})
    assert "1girl" in json.dumps(answer["result"])
    toml.write_text('profile = "kivotos-xl-2"\n')  # mended: the diagnostic on the file is withdrawn
    rpc.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                          "contentChanges": [{"text": text + " "}]})
    rpc.diagnostics(uri, 2)
    _, cleared = rpc.diagnostics(toml.as_uri())
    assert cleared["params"]["diagnostics"] == []
