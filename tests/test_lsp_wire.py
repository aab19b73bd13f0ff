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
