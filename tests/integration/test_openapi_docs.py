"""GET /openapi.json and the docs page at /docs, from a real daemon: no key needed, nothing
fetched from anywhere but the daemon, and in real headless Chromium the page renders every
operation of the document. A screenshot goes to tests/artifacts/docs.png (not committed)."""

from __future__ import annotations

import configparser
import fnmatch
import json
import re
import socket
from pathlib import Path

import pytest

from supervisor.api.dashboard import STATIC_DIR
from supervisor.api.openapi import DOCS_DIR
from tests.integration.test_dashboard import fetch
from tests.support.browser import ARTIFACTS, DESKTOP, Tab, chromium
from tests.support.daemon import API_KEY, Daemon

ROOT = Path(__file__).resolve().parents[2]


def test_the_document_and_the_docs_need_no_key(plain_daemon: Daemon) -> None:
    status, headers, body = fetch(plain_daemon, "/openapi.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["openapi"] == "3.1.0" and "/api/sessions" in doc["paths"]
    assert API_KEY.encode() not in body
    status, headers, page = fetch(plain_daemon, "/docs")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert b"http" not in page  # no CDN: every address in the page is the daemon's own
    for name, kind in (("docs.js", "text/javascript"), ("schema.js", "text/javascript"),
                       ("tryit.js", "text/javascript"), ("docs.css", "text/css")):
        status, headers, body = fetch(plain_daemon, f"/docs/{name}")
        assert status == 200 and body == (DOCS_DIR / name).read_bytes(), name
        assert headers["Content-Type"] == f"{kind}; charset=utf-8", name
    status, _, body = fetch(plain_daemon, "/docs/nothing.js")
    assert status == 404 and json.loads(body)["error"]["type"] == "NotFound"
    # The rest still needs the key; the document says so.
    assert fetch(plain_daemon, "/api/sessions")[0] == 401
    assert doc["paths"]["/api/sessions"]["get"].get("security") is None
    assert doc["security"] == [{"apiKey": []}, {"bearer": []}]


def test_the_docs_files_are_packaged_and_import_only_the_daemons_own_files() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = cfg["options.package_data"]["supervisor"].split()
    files = [p.relative_to(DOCS_DIR.parents[1]).as_posix() for p in DOCS_DIR.iterdir()]
    assert all(p.is_file() for p in DOCS_DIR.iterdir())  # the pattern covers no subfolder
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
    for script in DOCS_DIR.glob("*.js"):
        for target in re.findall(r"^import .* from '([^']+)';$", script.read_text(), re.M):
            folder = STATIC_DIR if target.startswith("/static/") else DOCS_DIR
            assert target.startswith(("./", "/static/")), (script.name, target)
            assert (folder / target.rsplit("/", 1)[1]).is_file(), (script.name, target)
    for sheet in (DOCS_DIR / "docs.css", STATIC_DIR / "app.css"):  # both take the theme
        targets = re.findall(r'^@import url\("([^"]+)"\);$', sheet.read_text(), re.M)
        assert targets and all((STATIC_DIR / t.rsplit("/", 1)[-1]).is_file() for t in targets), sheet


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_the_docs_page_renders_every_operation_and_tries_one_from_the_daemon_alone(
        workdir: Path, plain_daemon: Daemon) -> None:
    base = f"http://127.0.0.1:{plain_daemon.port}"
    plain_daemon.client.post("/api/sessions", {"id": "docs-demo", "start": False})
    doc = json.loads(fetch(plain_daemon, "/openapi.json")[2])
    shown = sum(len(op["tags"]) for item in doc["paths"].values() for op in item.values())
    queue = sum("queue" in f"{method} {path} {op['summary']}".lower()
                for path, item in doc["paths"].items() for method, op in item.items()
                for _ in op["tags"])
    async with chromium(workdir / "browser") as browser:
        page = await browser.newPage()
        await page.setViewport(DESKTOP)
        tab = Tab(page, base, "desktop")
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(f"{base}/docs", {"waitUntil": "load"})
        await tab.until("n => document.querySelectorAll('details.op').length === n", shown,
                        what=f"{shown} operations shown")
        assert "zapvisor" in await tab.text(".info .title")
        # The filter keeps the operations whose method, path or summary has every word.
        await tab.type(".bar input[type=search]", "queue")
        await tab.until("n => [...document.querySelectorAll('details.op')].filter(e => !e.hidden).length === n",
                        queue, what=f"{queue} operations about the queue")
        await tab.type(".bar input[type=search]", "")
        # One operation opened: its body's fields, its answers and their error types.
        await tab.click("#op-post_api_sessions > summary")
        await tab.has_text("#op-post_api_sessions", "TooManySessions")
        await tab.has_text("#op-post_api_sessions .op-body", "proxy")
        # Tried without the key, then with it; the curl line never shows the key.
        ours = "#op-get_api_sessions"
        await tab.click(f"{ours} > summary")
        await tab.click(f"{ours} button.primary")
        await tab.has_text(f"{ours} .result .status", "401")
        await tab.type("#key", API_KEY)
        await page.keyboard.press("Tab")  # the key is kept when the field changes
        await tab.click(f"{ours} button.primary")
        await tab.has_text(f"{ours} .result .status", "200")
        answer = json.loads(await tab.text(f"{ours} .result pre.answer"))
        assert [session["id"] for session in answer["sessions"]] == ["docs-demo"]
        curl = await tab.text(f"{ours} pre.curl")
        assert "$ZAPVISOR_KEY" in curl and API_KEY not in curl and f"{base}/api/sessions" in curl
        # A JSON body: the form starts from the document's examples; edited, it is what is sent.
        create = "#op-post_api_sessions"
        assert json.loads(await page.evaluate("s => document.querySelector(s).value", f"{create} textarea"))
        await page.focus(f"{create} textarea")
        await page.keyboard.down("Control")
        await page.keyboard.press("a")
        await page.keyboard.up("Control")
        await page.keyboard.type('{"id": "docs-two", "start": false}')
        await tab.click(f"{create} button.primary")
        await tab.has_text(f"{create} .result .status", "201")
        assert plain_daemon.client.get("/api/sessions/docs-two")["state"] == "STOPPED"
        ARTIFACTS.mkdir(exist_ok=True)
        await page.evaluate("s => document.querySelector(s).scrollIntoView()", "#op-post_api_sessions")
        await page.screenshot({"path": str(ARTIFACTS / "docs.png")})
        # An operation's address opens it.
        await page.goto(f"{base}/docs#op-get_health", {"waitUntil": "load"})
        await tab.has_text("#op-get_health .op-body", "Try it")
        assert tab.errors == []
    outside = [url for url in requested if not url.startswith(base) and not url.startswith("data:")]
    assert requested and outside == []


@pytest.mark.parametrize("request_head", [
    b"GET /api/events?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # a request line too long
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",  # a header too long
    b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",  # a space in a header's name
])
def test_a_request_aiohttp_cannot_parse_is_a_json_error_too(plain_daemon: Daemon,
                                                            request_head: bytes) -> None:
    """aiohttp answers these itself, before any route: in text/plain unless told otherwise, and
    with a traceback in the log for each. Every answer of the API is a documented JSON error."""
    with socket.create_connection(("127.0.0.1", plain_daemon.port), timeout=30) as conn:
        conn.sendall(request_head)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0], head
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"]["type"] == "InvalidRequest"
    assert "Traceback" not in plain_daemon.log()
