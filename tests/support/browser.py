"""Driving the dashboard in real headless Chromium (pyppeteer) for the tests: the browser, a
tab with the waits the tests need (polling with deadlines, across navigations), signing in,
reading and scanning the QR code the page shows.

Screenshots go to tests/artifacts/ (not committed) for people to look at.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from tests.support.daemon import API_KEY, Daemon
from tests.wasim import RunningSimulator, SimError

__all__ = ["ARTIFACTS", "CHROME", "DESKTOP", "PHONE", "Tab", "blocking", "chromium",
           "confirm_with_keyboard", "create_session", "open_tab", "png_rows", "scan_shown_qr",
           "shown_qr", "sign_in"]

CHROME = "/usr/lib/chromium/chromium-headless-shell"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "isMobile": True, "hasTouch": True}
T = TypeVar("T")


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Any]:
    """Headless Chromium for the test; always closed, and its process waited for."""
    from pyppeteer import launch

    browser = await launch(
        executablePath=CHROME, args=["--no-sandbox", "--disable-gpu"], userDataDir=str(profile),
        headless=True, autoClose=False, handleSIGINT=False, handleSIGTERM=False, handleSIGHUP=False)
    try:
        yield browser
    finally:
        proc = browser.process
        try:
            await asyncio.wait_for(browser.close(), 15)
        finally:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while proc.poll() is None and loop.time() < deadline:
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


class Tab:
    """One page of the dashboard, with the waits the tests need (polling, across navigations)."""

    def __init__(self, page: Any, base: str, size: str) -> None:
        self.page, self.base, self.size = page, base, size
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)

    def _console(self, msg: Any) -> None:
        # Refused requests (401, 404) are logged by Chrome itself; the page handles them.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(msg.text)

    async def until(self, js: str, *args: Any, timeout: float = 20.0, what: str = "") -> Any:
        """Poll ``js`` (a function) until it returns something truthy; AssertionError after
        ``timeout`` seconds, with the page's text."""
        from pyppeteer.errors import ElementHandleError, NetworkError

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                value = await self.page.evaluate(js, *args)
                if value:
                    return value
            except (ElementHandleError, NetworkError):
                pass  # navigating: not yet
            if loop.time() > deadline:
                text = await self.text("body")
                raise AssertionError(f"timed out after {timeout}s waiting for {what or js}\n"
                                     f"page errors: {self.errors}\npage text:\n{text}")
            await asyncio.sleep(0.05)

    async def text(self, selector: str) -> str:
        value: str = await self.page.evaluate(
            "s => (document.querySelector(s) || {innerText: ''}).innerText", selector)
        return value

    async def visible(self, selector: str, timeout: float = 20.0) -> None:
        await self.until("s => { const e = document.querySelector(s);"
                         " return e && e.getClientRects().length > 0 && !e.closest('[hidden]'); }",
                         selector, timeout=timeout, what=f"{selector} visible")

    async def has_text(self, selector: str, needle: str, timeout: float = 20.0) -> None:
        await self.until("(s, n) => { const e = document.querySelector(s);"
                         " return e && e.innerText.includes(n); }",
                         selector, needle, timeout=timeout, what=f"{selector} to show {needle!r}")

    async def click(self, selector: str) -> None:
        await self.visible(selector)
        await self.page.click(selector)

    async def type(self, selector: str, text: str) -> None:
        await self.page.click(selector, {"clickCount": 3})
        await self.page.keyboard.press("Backspace")
        await self.page.type(selector, text)

    async def shot(self, name: str) -> Path:
        """Save a full-page screenshot as tests/artifacts/dashboard-<size>-<name>.png."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"dashboard-{self.size}-{name}.png"
        # Let the web font-less layout settle: the next frame has been painted.
        await self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(1)))")
        await self.page.screenshot({"path": str(path), "fullPage": True})
        return path

    async def dark(self, on: bool) -> None:
        """Show the page as with a dark colour scheme set in the system (or not)."""
        features = [{"name": "prefers-color-scheme", "value": "dark" if on else ""}]
        await self.page._client.send("Emulation.setEmulatedMedia", {"features": features})

    async def never_reloaded(self) -> None:
        """The page set at sign-in is still the same document (views switched, no reload)."""
        assert await self.page.evaluate("() => window.__sameDocument === 1"), "the page reloaded"


async def open_tab(browser: Any, d: Daemon, size: str, path: str = "/") -> Tab:
    page = await browser.newPage()
    await page.setViewport(DESKTOP if size == "desktop" else PHONE)
    tab = Tab(page, f"http://127.0.0.1:{d.port}", size)
    await page.goto(tab.base + path, {"waitUntil": "load"})
    return tab


async def sign_in(tab: Tab, key: str = API_KEY) -> None:
    await tab.visible("#api-key")
    await tab.type("#api-key", key)
    await tab.page.keyboard.press("Enter")
    await tab.visible("#top")
    await tab.page.evaluate("() => { window.__sameDocument = 1; }")


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call (urllib, polling the daemon) off the browser's event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def shown_qr(tab: Tab) -> str:
    """The QR string of the code the dashboard shows (waits for a drawn one)."""
    qr: str = await tab.until(
        "() => { const f = document.querySelector('#qr-figure'), i = document.querySelector('#qr');"
        " return f && !f.hidden && i.complete && i.naturalWidth > 100 && f.dataset.qr; }",
        what="a QR code drawn on the session page")
    return qr


async def scan_shown_qr(tab: Tab, sim: RunningSimulator, phone: str) -> None:
    """Scan what the dashboard shows, like a person; a code replaced meanwhile (409) is read
    and scanned again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        qr = await shown_qr(tab)
        try:
            await blocking(sim.scan, qr=qr, phone=phone)
            return
        except SimError as exc:
            if exc.status != 409 or loop.time() > deadline:
                raise
        await tab.until("q => document.querySelector('#qr-figure').dataset.qr !== q", qr,
                        what="the next QR code")


async def confirm_with_keyboard(tab: Tab) -> None:
    """Enter on the focused action, then confirm: the dialog opens on Cancel, Tab, Enter."""
    await tab.page.keyboard.press("Enter")
    await tab.visible("dialog.dialog")
    assert await tab.page.evaluate("() => document.activeElement.textContent") == "Cancel"
    await tab.page.keyboard.press("Tab")
    await tab.page.keyboard.press("Enter")
    await tab.until("() => !document.querySelector('dialog')", what="the dialog closed")


async def create_session(tab: Tab, session_id: str) -> None:
    await tab.click('a[href="/sessions"][data-nav]')
    await tab.visible("#new-id")
    await tab.type("#new-id", session_id)
    await tab.click("form.create button[type=submit]")
    await tab.until("p => location.pathname === p", f"/sessions/{session_id}",
                    what="the new session's page")


def png_rows(png: bytes) -> tuple[int, list[bytes]]:
    """(bytes per pixel, the pixel rows) of an 8-bit RGB or RGBA PNG (what Chrome's screenshots
    are), unfiltered."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos:pos + 4]), png[pos + 4:pos + 8]
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    rows: list[bytes] = []
    prior = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up, corner = prior[x], (prior[x - bpp] if x >= bpp else 0)
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        prior = line
    return bpp, rows
