"""GET /openapi.json and the docs page at /docs, from a real daemon: no key needed, nothing
fetched from anywhere but the daemon, and in real headless Chromium the page renders every
operation of the document. A screenshot goes to tests/artifacts/docs.png (not committed)."""

from __future__ import annotations

import configparser
import fnmatch
import json
import socket
from pathlib import Path

import pytest

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
    for name, kind in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css"),
                       ("docs.js", "text/javascript")):
        status, headers, body = fetch(plain_daemon, f"/docs/{name}")
        assert status == 200 and body == (DOCS_DIR / name).read_bytes(), name
        assert headers["Content-Type"] == f"{kind}; charset=utf-8", name
    status, _, body = fetch(plain_daemon, "/docs/nothing.js")
    assert status == 404 and json.loads(body)["error"]["type"] == "NotFound"
    # The rest still needs the key; the document says so.
    assert fetch(plain_daemon, "/api/sessions")[0] == 401
    assert doc["paths"]["/api/sessions"]["get"].get("security") is None
    assert doc["security"] == [{"apiKey": []}, {"bearer": []}]


def test_the_docs_files_are_packaged_with_their_licence() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = cfg["options.package_data"]["supervisor"].split()
    files = [p.relative_to(DOCS_DIR.parents[1]).as_posix() for p in DOCS_DIR.iterdir()]
    assert all(p.is_file() for p in DOCS_DIR.iterdir())  # the pattern covers no subfolder
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
    assert "Apache License" in (DOCS_DIR / "LICENSE").read_text()
    assert "swagger-ui" in (DOCS_DIR / "NOTICE").read_text()


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_the_docs_page_renders_every_operation_from_the_daemon_alone(
        workdir: Path, plain_daemon: Daemon) -> None:
    base = f"http://127.0.0.1:{plain_daemon.port}"
    doc = json.loads(fetch(plain_daemon, "/openapi.json")[2])
    operations = sum(len(item) for item in doc["paths"].values())
    async with chromium(workdir / "browser") as browser:
        page = await browser.newPage()
        await page.setViewport(DESKTOP)
        tab = Tab(page, base, "desktop")
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(f"{base}/docs", {"waitUntil": "load"})
        await tab.until("n => document.querySelectorAll('.opblock').length === n", operations,
                        what=f"{operations} operations shown")
        assert "zapvisor" in await tab.text(".info .title")
        # One operation opened: its parameters and responses are there.
        await tab.click("#operations-sessions-post_api_sessions .opblock-summary")
        await tab.has_text("#operations-sessions-post_api_sessions", "TooManySessions")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot({"path": str(ARTIFACTS / "docs.png")})
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
