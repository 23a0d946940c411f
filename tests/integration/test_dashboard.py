"""The web dashboard (supervisor/static, served at /): its routes over HTTP, then the whole thing
in real headless Chromium (pyppeteer, tests/support/browser.py) against a real daemon whose
sessions run real Chrome on the WhatsApp Web simulator.

The browser tests save screenshots of every page, on a desktop and on a phone-sized screen, in
tests/artifacts/ (not committed) for people to look at.
"""

from __future__ import annotations

import base64
import configparser
import fnmatch
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from supervisor.api.dashboard import STATIC_DIR
from tests.support.browser import (
    PHONE,
    blocking,
    chromium,
    confirm_with_keyboard,
    create_session,
    open_tab,
    scan_shown_qr,
    shown_qr,
    sign_in,
)
from tests.support.daemon import API_KEY, BROWSER_ACCEPT, Daemon
from tests.support.procs import wait_until
from tests.support.wa import CONTACT, FAST_SIM, PHONE_A, PHONE_B, serving, wa_daemon
from tests.wasim import RunningSimulator, run_simulator

ROOT = Path(__file__).resolve().parents[2]


# -- over HTTP, no browser ------------------------------------------------------------------


def fetch(d: Daemon, path: str, method: str = "GET",
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request, errors included."""
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}{path}", method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def imports(js: str) -> set[str]:
    """The modules a dashboard script imports (relative specifiers)."""
    return set(re.findall(r"""^import\s.*?\sfrom\s+['"]\./([^'"]+)['"];""", js, re.MULTILINE | re.DOTALL))


def test_pages_and_assets_need_no_key_and_hold_none(plain_daemon: Daemon) -> None:
    # /sessions is also zapnode's JSON route: a browser's Accept gets the page (test_legacy_api).
    for path in ("/", "/sessions", "/sessions/cliente-a", "/cluster"):
        status, headers, body = fetch(plain_daemon, path, headers={"Accept": BROWSER_ACCEPT})
        assert status == 200, path
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert API_KEY.encode() not in body and b'<script type="module" src="/static/app.js">' in body
    assert fetch(plain_daemon, "/", method="HEAD")[0] == 200
    # Every file the page and its modules load is served, with a type a browser accepts.
    html = (STATIC_DIR / "index.html").read_text()
    wanted = set(re.findall(r'(?:href|src)="/static/([^"]+)"', html))
    for name in sorted(wanted):
        if name.endswith(".js"):
            wanted |= imports((STATIC_DIR / name).read_text())
    assert {"app.js", "app.css", "api.js", "stream.js", "session.js"} <= wanted
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".svg": "image/svg+xml"}
    for name in sorted(wanted):
        status, headers, body = fetch(plain_daemon, f"/static/{name}")
        assert status == 200 and body == (STATIC_DIR / name).read_bytes(), name
        assert headers["Content-Type"] == types[Path(name).suffix], name
    every_js = {p.name for p in STATIC_DIR.glob("*.js")}
    for name in every_js:
        assert imports((STATIC_DIR / name).read_text()) <= every_js, name


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/static/nothing.js", 404),
    ("GET", "/static/..%2Fapi.py", 401),  # not a dashboard file: nothing outside static/
    ("GET", "/static/../api.py", 401),
    ("GET", "/sessions/-bad", 401),  # not a dashboard address: the API's rules apply
    ("GET", "/sessions/x/send", 401),
    ("POST", "/sessions/x/send", 401),  # the seeds' alias stays protected
    ("POST", "/", 401),
    ("GET", "/api/sessions", 401),
    ("GET", "/api/events", 401),
])
def test_everything_else_still_needs_the_key(plain_daemon: Daemon, method: str, path: str,
                                             status: int) -> None:
    got, headers, body = fetch(plain_daemon, path, method=method)
    assert got == status, (path, body)
    assert headers["Content-Type"].startswith("application/json")


def test_stats_carry_host_memory_and_cpu(plain_daemon: Daemon) -> None:
    host = plain_daemon.client.get("/api/stats")["host"]
    assert host["memory_total_bytes"] > host["memory_available_bytes"] > 0
    assert 0 <= host["memory_percent"] <= 100 and 0 <= host["cpu_percent"] <= 100
    assert host["cpu_count"] >= 1 and host["load_1m"] >= 0


def test_every_asset_is_packaged() -> None:
    """setup.cfg ships ``static/*``: that pattern must cover every file (so: no subfolders)."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = cfg["options.package_data"]["supervisor"].split()
    files = [p.relative_to(STATIC_DIR.parents[1]).as_posix() for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert files and all(p.parent == STATIC_DIR for p in STATIC_DIR.rglob("*"))
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


# -- in a real browser ----------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    # A new QR every 2 s: the test sees the dashboard follow one.
    with run_simulator(ref_ttl_s=2.0, **FAST_SIM) as running:
        yield running


@pytest.fixture
def daemon(workdir: Path, free_port: int, sim: RunningSimulator) -> Iterator[Daemon]:
    with serving(wa_daemon(workdir, free_port, sim, whatsapp={"qr_max_refreshes": 60},
                           events={"resource_interval_s": 1.0})) as d:
        yield d


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_desktop_login_create_scan_send_delete(workdir: Path, daemon: Daemon,
                                                     sim: RunningSimulator) -> None:
    async with chromium(workdir / "browser") as browser:
        tab = await open_tab(browser, daemon, "desktop")
        await tab.visible("#api-key")
        await tab.shot("login")

        # A wrong key is refused and not kept; the right one is kept in this tab only.
        await tab.type("#api-key", "not-the-key")
        await tab.page.keyboard.press("Enter")
        await tab.has_text("#login-error", "refused")
        assert await tab.page.evaluate("() => sessionStorage.length + localStorage.length") == 0
        await sign_in(tab)
        await tab.has_text("#live", "Live")
        await tab.has_text("#total-sessions", "0")
        assert await tab.page.evaluate(
            "() => [sessionStorage.getItem('zapvisor.apiKey'), localStorage.length,"
            " document.cookie, location.href.includes('key')]") == [API_KEY, 0, "", False]
        await tab.has_text("#host-memory", " of ")
        await tab.has_text("#host-cpu", "%")
        await tab.shot("overview-empty")

        # Create: the session page shows its QR code, large, and follows each new one.
        await create_session(tab, "dash-a")
        first = await shown_qr(tab)
        width = await tab.page.evaluate("() => document.querySelector('#qr').getBoundingClientRect().width")
        assert width >= 300, width
        await tab.shot("session-qr")
        await tab.until("q => { const f = document.querySelector('#qr-figure');"
                        " return !f.hidden && f.dataset.qr && f.dataset.qr !== q; }", first,
                        what="a new QR code, without a reload")
        await tab.never_reloaded()

        # Scan the code the page shows: the phone number replaces it, without a reload.
        await scan_shown_qr(tab, sim, PHONE_A)
        await tab.has_text("#linked-phone", f"+{PHONE_A}")
        await tab.has_text("#session-state", "Working")
        assert await tab.page.evaluate("() => document.querySelector('#qr-figure').hidden")
        await tab.never_reloaded()

        # Send a test message: exactly that text reaches exactly that chat.
        await tab.type("#send-to", f"+{CONTACT}")
        await tab.type("#send-text", "hello from the dashboard")
        await tab.click("form.send button[type=submit]")
        await tab.has_text("#send-result", "Sent to")
        sent = await blocking(sim.sent, phone=PHONE_A)
        assert [(m["to"], m["body"]) for m in sent] == [(f"{CONTACT}@c.us", "hello from the dashboard")]
        # Send a file: the text becomes its caption; the bytes reach WhatsApp intact.
        report = workdir / "report.pdf"
        report.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
        await tab.page.evaluate("() => { document.querySelector('#send-text').value = 'the report'; }")
        await (await tab.page.querySelector("#send-file")).uploadFile(str(report))
        await tab.click("form.send button[type=submit]")
        await tab.until("() => document.querySelectorAll('#session-events [data-event=\"message.sent\"]')"
                        ".length >= 2", what="the file's message.sent")
        document = (await blocking(sim.sent, phone=PHONE_A))[-1]
        assert (document["type"], document["filename"], document["caption"]) == ("document", "report.pdf", "the report")
        assert await blocking(sim.media, document["direct_path"]) == report.read_bytes()

        # An incoming photo shows as a link that downloads it (the key in a header, not the link).
        photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
        await blocking(sim.incoming, f"{CONTACT}@c.us", None, phone=PHONE_A, type="image",
                       data=base64.b64encode(photo).decode(), mimetype="image/png")
        await tab.visible("#session-events a.media-link")
        downloads = workdir / "downloads"
        await tab.page._client.send("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        # (A click by script: live events prepended meanwhile would move the link under a mouse.)
        await tab.page.evaluate("() => document.querySelector('#session-events a.media-link').click()")
        href = await tab.until("() => { const a = document.querySelector('#session-events a.media-link');"
                               " return a.dataset.ready && a.href; }", what="the photo fetched")
        assert href.startswith("blob:")  # fetched with the key, handed to the browser as a file
        saved = downloads / "image.png"  # the browser saved the photo itself under its name
        await blocking(wait_until, lambda: saved.is_file() and saved.read_bytes() == photo, timeout=20,
                       message="the photo downloaded")
        assert await tab.text("#session-events a.media-link") == "⬇ image.png"
        await tab.has_text("#session-events", "session.qr")
        await tab.has_text("#session-events", "Working")
        await tab.has_text("#detail-memory", "MB")
        await tab.shot("session-working")

        # Stop, then start: the login is kept in the profile, so WORKING again without a QR.
        await tab.click("main > .actions button[data-action=stop]")
        await tab.has_text("#session-state", "Stopped", timeout=30)
        await tab.has_text("#login-waiting", "Start the session")
        await tab.click("main > .actions button[data-action=start]")
        await tab.has_text("#linked-phone", f"+{PHONE_A}", timeout=30)
        assert await tab.page.evaluate("() => document.querySelector('#qr-figure').hidden")

        # The sessions table: state in words, the number, the figures; assign to a role.
        await tab.click('a[href="/sessions"][data-nav]')
        row = 'tr[data-session="dash-a"]'
        await tab.has_text(row, "Working")
        await tab.has_text(row, f"+{PHONE_A}")
        await tab.has_text(f'{row} td[data-label="Memory"]', "MB")
        await tab.click(f"{row} button[data-action=role]")
        await tab.visible("dialog #role-name")
        await tab.type("dialog #role-name", "sales")
        await tab.page.keyboard.press("Enter")
        await tab.has_text(f'{row} td[data-label="Role"]', "sales")
        roles = await blocking(daemon.client.get, "/api/roles")
        assert roles["roles"] == [{"role": "sales", "sessions": ["dash-a"], "working": ["dash-a"]}]
        await tab.shot("sessions")
        await tab.dark(True)
        await tab.shot("sessions-dark")
        await tab.dark(False)

        # The send queue, live (from the events, no reload): a send held by the day's limit
        # shows in the session's row and on its page, listed there with the limit holding it,
        # and its Cancel button cancels it: it leaves both, and WhatsApp never gets it.
        await blocking(daemon.client.patch, "/api/sessions/dash-a", {"sending": {"per_day": 2}})
        held = await blocking(daemon.client.post, "/api/sessions/dash-a/messages?wait=false",
                              {"to": CONTACT, "text": "tomorrow"})
        assert held["status"] == "queued", held
        await tab.has_text(f'{row} td[data-label="Queue"]', "1 queued")
        await tab.click(f'{row} a[href="/sessions/dash-a"]')
        await tab.has_text("#detail-queue", "1 waiting")
        entry = f'#session-queue tr[data-queue-id="{held["queue_id"]}"]'
        await tab.has_text(f'{entry} td[data-label="To"]', f"+{CONTACT}")
        await tab.has_text(f'{entry} td[data-label="Kind"]', "Text")
        await tab.has_text(f'{entry} td[data-label="Message"]', "tomorrow")
        await tab.has_text(f'{entry} td[data-label="Status"]', "Waiting")
        # A text and a file went today: with 2 a day, the third waits for tomorrow.
        await tab.has_text(f'{entry} td[data-label="Held by"]', "Messages per day (2 of 2)")
        assert await tab.page.evaluate("s => document.querySelector(s).dataset.limit",
                                       f'{entry} td[data-label="Held by"]') == "per_day"
        assert re.fullmatch(r"\d+s|\d+m \d\ds", await tab.text(f'{entry} td[data-label="Age"]'))
        assert await tab.page.evaluate("() => document.querySelectorAll('#session-queue tbody tr').length") == 1
        await tab.shot("session-queue")
        await tab.click(f"{entry} button[data-action=cancel]")
        await tab.until("s => !document.querySelector(s)", entry, what="the send gone from the list")
        await tab.visible("#queue-empty")
        await tab.has_text("#detail-queue", "empty")
        assert (await blocking(daemon.client.get, held["status_url"]))["status"] == "cancelled"
        # With the limit lifted, the chat's next send goes, and before it nothing: sends to a
        # chat keep their order, so a "tomorrow" still queued would have gone first.
        await blocking(daemon.client.patch, "/api/sessions/dash-a", {"sending": {}})
        after = await blocking(daemon.client.post, "/api/sessions/dash-a/messages", {"to": CONTACT, "text": "after"})
        assert after["status"] == "sent", after
        bodies = [m.get("body") for m in await blocking(sim.sent, phone=PHONE_A)]
        assert bodies[-1] == "after" and "tomorrow" not in bodies, bodies
        await tab.never_reloaded()

        # The overview follows: one WORKING session, three messages out (two texts, a file), one in.
        await tab.click('a[href="/"][data-nav]')
        await tab.has_text('a[data-state="WORKING"]', "1")
        await tab.has_text("#messages-out", "3")
        await tab.has_text("#messages-in", "1")  # the photo
        await tab.has_text("#activity", "dash-a")
        await tab.shot("overview")

        # Delete, after a confirmation that can be cancelled.
        await tab.click('a[href="/sessions"][data-nav]')
        await tab.click(f"{row} button[data-action=delete]")
        await tab.visible("dialog.dialog")
        await tab.page.keyboard.press("Escape")
        await tab.until("() => !document.querySelector('dialog')", what="the dialog closed")
        assert (await blocking(daemon.session, "dash-a"))["state"] == "WORKING"
        await tab.click(f"{row} button[data-action=delete]")
        await tab.click("dialog button.danger")
        await tab.until("s => !document.querySelector(s)", row, what="the row removed")
        await tab.visible("p.empty")
        assert (await blocking(daemon.client.get, "/api/sessions"))["sessions"] == []
        await tab.never_reloaded()
        assert tab.errors == []


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_phone_and_keyboard(workdir: Path, daemon: Daemon, sim: RunningSimulator) -> None:
    async with chromium(workdir / "browser") as browser:
        tab = await open_tab(browser, daemon, "phone", "/sessions")
        await tab.visible("#api-key")
        assert await tab.page.evaluate("() => document.activeElement.id") == "api-key"
        await tab.shot("login")
        await sign_in(tab)  # typed, then Enter
        # Signing in leads where the address said; nothing is wider than the screen.
        await tab.visible("#new-id")
        await tab.page.focus("#new-id")
        await tab.page.keyboard.type("dash-b")
        await tab.page.keyboard.press("Enter")
        await tab.until("() => location.pathname === '/sessions/dash-b'", what="the session page")
        await shown_qr(tab)
        await tab.shot("session-qr")
        await scan_shown_qr(tab, sim, PHONE_B)
        await tab.has_text("#linked-phone", f"+{PHONE_B}")
        await tab.shot("session-working")
        assert await tab.page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

        # Keyboard only: links and buttons are real ones, with a visible focus.
        await tab.page.focus('a[href="/sessions"][data-nav]')
        await tab.page.keyboard.press("Enter")
        await tab.has_text('tr[data-session="dash-b"]', "Working")
        await tab.shot("sessions")
        row = 'tr[data-session="dash-b"]'
        await tab.page.focus(f"{row} button[data-action=restart]")
        await tab.page.keyboard.press("Tab")
        assert await tab.page.evaluate(
            "() => { const b = document.activeElement; return [b.dataset.action,"
            " b.matches(':focus-visible'), getComputedStyle(b).outlineStyle]; }"
        ) == ["logout", True, "solid"]
        await tab.shot("sessions-keyboard-focus")
        await confirm_with_keyboard(tab)  # log out: the number is gone, the session STOPPED
        await tab.has_text(row, "Stopped", timeout=30)
        await tab.has_text(f'{row} td[data-label="Phone"]', "—")
        assert (await blocking(daemon.session, "dash-b"))["phone_number"] is None
        await tab.page.focus(f"{row} button[data-action=delete]")
        await confirm_with_keyboard(tab)
        await tab.until("s => !document.querySelector(s)", row, what="the row removed")
        assert (await blocking(daemon.client.get, "/api/sessions"))["sessions"] == []

        await tab.page.focus('a[href="/"][data-nav]')
        await tab.page.keyboard.press("Enter")
        await tab.has_text("#total-sessions", "0")
        await tab.shot("overview")
        assert await tab.page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

        # A key that stops working (here: replaced behind the page's back) leads back to the
        # login form at the first 401, with the reason; signing out forgets the key.
        await tab.page.evaluate("() => sessionStorage.setItem('zapvisor.apiKey', 'revoked')")
        await tab.page.focus('a[href="/sessions"][data-nav]')
        await tab.page.keyboard.press("Enter")
        await tab.click("form.create button[type=submit]")
        await tab.has_text("#login-error", "refused")
        assert await tab.page.evaluate("() => sessionStorage.length") == 0
        await sign_in(tab)
        await tab.click("#signout")
        await tab.has_text("#login-error", "Signed out")
        assert await tab.page.evaluate("() => sessionStorage.length") == 0
        assert tab.errors == []
