"""``promptkit playground``: the JSON API (validation, answers checked against the library) and the page in a
real browser (Debian's chromium driven by Playwright; never ``playwright install``).

Screenshots of the page are written to ``$PROMPTKIT_SCREENSHOTS`` when it is set (the README's come from here).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playground_server import running_playground

from promptkit.linter import fix_text, lint_prompt
from promptkit.playground.server import MAX_BODY, PlaygroundServer
from promptkit.profiles import load_profile
from promptkit.syntax import ConversionError, parse
from promptkit.tags import TagDB
from promptkit.tokens.chunks import plan_chunks

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def server():
    with running_playground() as playground:
        yield playground


def call(server, path: str, body=None, *, raw: bytes | None = None, content_type: str = "application/json",
         method: str | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(server.url.rstrip("/") + path, data=data, method=method,
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=240) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def utf16(text: str, offset: int) -> int:
    return len(text[:offset].encode("utf-16-le", "surrogatepass")) // 2


# -- the API ------------------------------------------------------------------------------------------------

def test_analyze_is_the_linter_chunker_and_renderer(server):
    prompt = "\U0001F600 smile, kazusa (blue archive), 1girl, long hiar BREAK (pony tail:1.3), [a:b:0.5]"
    negative = "worst quality, pony tail"
    status, answer = call(server, "/api/analyze", {"prompt": prompt, "negative_prompt": negative,
                                                   "profile": "kivotos-xl-2"})
    assert status == 200
    got = [(f["code"], f["start"], f["end"]) for f in answer["prompt"]["findings"]]
    assert got == [(d.code, utf16(prompt, d.start), utf16(prompt, d.end))
                   for d in lint_prompt(prompt, "kivotos-xl-2").diagnostics]
    assert [f["code"] for f in answer["negative_prompt"]["findings"]] == \
        [d.code for d in lint_prompt(negative, "kivotos-xl-2", negative=True).diagnostics]
    plan = plan_chunks(parse(prompt))
    chunks = answer["prompt"]["chunks"]
    assert chunks["token_count"] == plan.token_count and len(chunks["chunks"]) == len(plan.chunks) == 2
    assert chunks["chunks"][0]["ended"] == "break"
    weights = {t["text"].strip(): t["weight"] for c in chunks["chunks"] for t in c["tokens"]}
    assert weights["pony"] == pytest.approx(1.3)
    for conversion in answer["prompt"]["conversions"]:
        try:
            expected = parse(prompt).render(conversion["dialect"])
        except ConversionError as exc:
            assert conversion["text"] is None and conversion["error"] == str(exc)
        else:
            assert conversion["text"] == expected
    assert {c["dialect"] for c in answer["prompt"]["conversions"]} == {"comfy", "novelai", "compel"}


def test_backtrack_is_shown(server):
    prompt = ", ".join(["very long flowing silver hair"] * 20)  # 6 tokens an item: the 13th would be cut
    status, answer = call(server, "/api/analyze", {"prompt": prompt})
    ended = [c["ended"] for c in answer["prompt"]["chunks"]["chunks"]]
    plan = plan_chunks(parse(prompt))
    assert ended[0] == "backtrack" and len(plan.chunks[0].tokens) == 72  # A1111 moved the 13th item on
    assert len(answer["prompt"]["chunks"]["chunks"][0]["tokens"]) == 72


def test_fix_complete_hover_and_format(server):
    text = "\U0001F600, 1girl, pony tail, long hiar"
    start = utf16(text, text.index("pony tail"))
    status, answer = call(server, "/api/fix", {"text": text, "code": "PK202", "start": start, "end": start + 9})
    assert status == 200 and answer["text"] == text.replace("pony tail", "ponytail")
    status, answer = call(server, "/api/fix", {"text": text, "all": True})
    assert answer["text"] == fix_text(text)[0]
    status, answer = call(server, "/api/fix", {"text": text, "code": "PK202", "start": 0, "end": 3})
    assert status == 409 and "no finding" in answer["error"]
    typed = "\U0001F600 1girl, blue ar"
    status, answer = call(server, "/api/complete", {"text": typed, "offset": utf16(typed, len(typed)),
                                                    "profile": "kivotos-xl-2"})
    db = TagDB.for_profile("kivotos-xl-2")
    assert [i["insert"] for i in answer["items"][:3]] == [i.name.replace("_", " ") for i in db.complete("blue ar")[:3]]
    assert answer["start"] == utf16(typed, typed.index("blue ar")) and answer["end"] == utf16(typed, len(typed))
    status, answer = call(server, "/api/hover", {"text": text, "offset": utf16(text, text.index("1girl") + 1)})
    assert answer["info"]["post_count"] == db.lookup("1girl").post_count
    assert answer["info"]["start"] == utf16(text, text.index("1girl"))
    status, answer = call(server, "/api/format", {"text": "smile ,1girl", "profile": "kivotos-xl-2"})
    from promptkit.linter import format_prompt

    assert answer["text"] == format_prompt("smile ,1girl", load_profile("kivotos-xl-2"))


@pytest.mark.parametrize("body, field", [
    ({"prompt": "x", "profile": "no-such-model"}, "unknown profile 'no-such-model'"),
    ({"prompt": "x", "profile": "../../etc/passwd.toml"}, "unknown profile"),
    ({"prompt": "x", "select": ["PK999"]}, "no rule matches 'PK999'"),
    ({"prompt": "x", "dialect": "klingon"}, "dialect"),
    ({"prompt": "x", "colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"prompt": 5}, "prompt: Input should be a valid string"),
    ([1, 2], "valid dictionary"),
])
def test_bad_analyze_requests_are_422_with_a_message(server, body, field):
    status, answer = call(server, "/api/analyze", body)
    assert status == 422 and field in answer["error"] and answer["details"]


def test_bad_requests_get_the_right_status(server):
    assert call(server, "/api/hover", {"text": "ab", "offset": 3})[0] == 422
    assert call(server, "/api/hover", {"text": "ab", "offset": -1})[0] == 422
    assert call(server, "/api/fix", {"text": "ab"})[0] == 422  # which finding?
    assert call(server, "/api/analyze", raw=b'{"prompt": "')[0] == 400
    status, answer = call(server, "/api/analyze", raw=b'{"prompt": "\xff\xfe"}')
    assert status == 400 and "not UTF-8" in answer["error"]
    assert call(server, "/api/analyze", {"prompt": "x"}, content_type="text/plain")[0] == 415
    assert call(server, "/api/nothing", {"prompt": "x"})[0] == 404
    assert call(server, "/api/analyze", method="GET")[0] == 405
    status, answer = call(server, "/api/analyze", raw=b"{}", headers={"Content-Length": str(MAX_BODY + 1)})
    assert status == 413


HOSTILE = {
    "1 MB": ("masterpiece, 1girl, (long hair:1.2), pony tail, " * 25000)[:1_000_000],
    "binary junk": bytes(range(256)).decode("latin-1") * 400,
    "100,000 nested brackets": "(" * 100_000 + "smile" + ")" * 100_000,
    "lone surrogates": "1girl, \udcff\udc80 smile, long hiar",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_any_text_gets_an_answer(server, name):
    text = HOSTILE[name]
    status, answer = call(server, "/api/analyze", raw=json.dumps({"prompt": text}).encode())
    assert status == 200 and answer["prompt"]["findings"]
    assert "analysis" not in [f["code"] for f in answer["prompt"]["findings"]]
    status, answer = call(server, "/api/complete", raw=json.dumps({"text": text, "offset": 3}).encode())
    assert status == 200


def test_a_text_beyond_the_memory_limit_is_a_finding_and_the_server_lives(monkeypatch):
    """Under a 350 MB limit on the analysis process (a small lint needs ~130 MB of address space here, 2 MB of
    prompt ~800 MB) two megabytes of prompt run out of memory: the answer is one finding that says so, and the next request is answered."""
    monkeypatch.setenv("PROMPTKIT_EDITOR_MEMORY_MB", "350")
    small = PlaygroundServer().start()
    try:
        status, answer = call(small, "/api/analyze", {"prompt": HOSTILE["1 MB"] * 2})
        assert status == 200 and [f["code"] for f in answer["prompt"]["findings"]] == ["analysis"]
        assert "memory" in answer["prompt"]["findings"][0]["message"]
        status, answer = call(small, "/api/analyze", {"prompt": "long hiar"})
        assert [f["code"] for f in answer["prompt"]["findings"]] == ["PK201"]
    finally:
        small.stop()


def test_the_page_loads_nothing_from_elsewhere(server):
    with urllib.request.urlopen(server.url, timeout=30) as response:
        page = response.read().decode()
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "http" not in page.replace(server.url, "")  # no CDN, no external link
    for name in ("app.js", "app.css"):
        with urllib.request.urlopen(server.url + "static/" + name, timeout=30) as response:
            assert b"https://" not in response.read()


# -- the page in a browser --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=60_000)
    profile_dir = tempfile.mkdtemp(prefix="promptkit-chromium-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile_dir, executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS,
            viewport={"width": 1000, "height": 860}, bypass_csp=True)  # Playwright evaluates strings
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(server.url + "?profile=kivotos-xl-2")
            page.wait_for_selector("body[data-analyzed]")
            yield page
        finally:
            context.close()
            shutil.rmtree(profile_dir, ignore_errors=True)


def expect(locator):
    """Playwright's retrying assertions (imported here: the API tests run without Playwright)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def screenshot(page, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PROMPTKIT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path))
    if os.environ.get("PROMPTKIT_SCREENSHOTS"):  # for the README: small PNGs (a 64-colour palette)
        from PIL import Image

        Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)
    return path


def type_prompt(page, selector: str, text: str) -> None:
    page.fill(selector, "")
    page.type(selector, text, delay=5)
    page.keyboard.press("Escape")


# The page tests wait for the state they check, never for time: the page marks body[data-analyzing] from an
# edit until the analysis of the text as it then stands is shown (an older answer is dropped), and the
# completion list carries the span (data-start, data-end) of the text it was made for.
def analyzed_after(page, before: str) -> None:
    """Wait until an analysis newer than ``before`` of the text now in the page is shown."""
    page.wait_for_function("before => document.body.dataset.analyzed !== before && "
                           "!('analyzing' in document.body.dataset)", arg=before)


def completion_for(page, role: str, typed: str):
    """Wait until the completion list shown is the one for ``typed``, ending at the caret (not a list made
    for an earlier keystroke), and return it."""
    page.wait_for_function("""([role, typed]) => {
        const list = document.getElementById('completion'), area = document.getElementById(role);
        return !list.hidden && list.children.length > 0 && +list.dataset.end === area.selectionStart &&
            area.value.slice(+list.dataset.start, +list.dataset.end) === typed;
    }""", arg=[role, typed])
    return page.locator("#completion li")


def test_typing_shows_the_finding_and_a_fix_applies_it(page, tmp_path):
    before = page.evaluate("document.body.dataset.analyzed")
    type_prompt(page, "#prompt", "smile, kazusa (blue archive), 1girl, long hiar, pony tail")
    analyzed_after(page, before)
    page.wait_for_selector('#findings-prompt li[data-code="PK201"]')
    message = page.inner_text('#findings-prompt li[data-code="PK201"] .message')
    assert "long hair" in message
    assert page.locator(".editor[data-role=prompt] mark").count() >= 3  # underlined in the text
    before = page.evaluate("document.body.dataset.analyzed")
    type_prompt(page, "#negative_prompt", "worst quality, lowres, bad hands")
    analyzed_after(page, before)
    page.wait_for_selector(".editor[data-role=prompt] mark")
    page.wait_for_selector("#chunks .tok")
    screenshot(page, "playground.png", tmp_path)
    before = page.evaluate("document.body.dataset.analyzed")
    page.click('#findings-prompt li[data-code="PK202"] button.fix')
    analyzed_after(page, before)
    expect(page.locator("#prompt")).to_have_value("smile, kazusa (blue archive), 1girl, long hiar, ponytail")
    expect(page.locator('#findings-prompt li[data-code="PK202"]')).to_have_count(0)
    expect(page.locator('#findings-prompt li[data-code="PK201"]')).to_have_count(1)


def test_picking_a_completion_writes_the_tag_the_profiles_way(page, tmp_path):
    page.fill("#prompt", "1girl, ")
    page.focus("#prompt")
    page.keyboard.press("End")
    page.keyboard.type("kazusa (bl", delay=20)
    items = completion_for(page, "prompt", "kazusa (bl")
    assert items.first.get_attribute("data-insert") == r"kazusa \(blue archive\)"
    screenshot(page, "playground-completion.png", tmp_path)
    page.keyboard.press("Enter")
    expect(page.locator("#prompt")).to_have_value(r"1girl, kazusa \(blue archive\)")
    expect(page.locator("#completion")).to_be_hidden()
    page.keyboard.type(", long ha", delay=20)
    items = completion_for(page, "prompt", "long ha")
    assert items.first.get_attribute("data-insert") == "long hair"
    items.first.click()
    expect(page.locator("#prompt")).to_have_value(r"1girl, kazusa \(blue archive\), long hair")


def test_switching_profile_changes_the_findings(page):
    before = page.evaluate("document.body.dataset.analyzed")
    page.fill("#prompt", "score_9, score_8_up, 1girl, smile")
    page.dispatch_event("#prompt", "input")
    analyzed_after(page, before)
    kivotos = {d.code for d in lint_prompt("score_9, score_8_up, 1girl, smile", "kivotos-xl-2").diagnostics}
    pony = {d.code for d in lint_prompt("score_9, score_8_up, 1girl, smile", "pony-v6").diagnostics}
    assert kivotos != pony  # the oracle: the two profiles judge this prompt differently
    shown = set(page.eval_on_selector_all("#findings-prompt li[data-code]", "els => els.map(e => e.dataset.code)"))
    assert shown == kivotos
    before = page.evaluate("document.body.dataset.analyzed")
    page.select_option("#profile", "pony-v6")
    analyzed_after(page, before)
    shown = set(page.eval_on_selector_all("#findings-prompt li[data-code]", "els => els.map(e => e.dataset.code)"))
    assert shown == pony


def test_hover_shows_tag_info(page, tmp_path):
    page.mouse.move(0, 0)  # off the editors: a pointer left over the text by an earlier test hovers as it changes
    before = page.evaluate("document.body.dataset.analyzed")
    page.select_option("#profile", "kivotos-xl-2")
    page.fill("#prompt", "1girl, (long hair:1.2), smile")
    page.dispatch_event("#prompt", "input")
    analyzed_after(page, before)
    page.focus("#negative_prompt")  # no completion list over the text
    page.mouse.move(0, 0)  # off the text: no tooltip left from before
    expect(page.locator("#tooltip")).to_be_hidden()
    # the 'o' of 'long' in the backdrop, whose findings split its text into several nodes
    mark = page.evaluate("""() => {
        const b = document.querySelector('.editor[data-role=prompt] .backdrop');
        const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
        for (let t = walker.nextNode(); t; t = walker.nextNode()) {
            const i = t.textContent.indexOf('long');
            if (i < 0) continue;
            const r = document.createRange(); r.setStart(t, i + 1); r.setEnd(t, i + 2);
            const q = r.getBoundingClientRect();
            return {x: q.left + q.width / 2, y: q.top + q.height / 2};
        }
        return null;
    }""")
    assert mark is not None, page.inner_text(".editor[data-role=prompt] .backdrop")
    page.mouse.move(mark["x"], mark["y"])
    posts = TagDB.for_profile("kivotos-xl-2").lookup("long_hair").post_count
    tip = page.locator("#tooltip")
    expect(tip).to_contain_text(f"{posts:,} posts")
    expect(tip).to_contain_text("weight 1.2")
    expect(tip).to_contain_text("chunk 1 of 1")
    screenshot(page, "playground-hover.png", tmp_path)
