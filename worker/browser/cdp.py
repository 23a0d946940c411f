"""pyppeteer glue: attach to our Chrome over CDP, probe it, navigate, ask it to close.

Every use of pyppeteer's private attributes (``page._client``, ``Connection._on_message`` ...)
and of its internal modules (``pyppeteer.frame_manager``) is here or in browser.pipe (CDP over
Chrome's DevTools pipe instead of pyppeteer's websocket), so a pyppeteer upgrade is checked
in two files.

There is no websocket, so no keepalive to drop (miyakogi/pyppeteer#159). One local patch is
applied, see :func:`_harden_pyppeteer`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pyppeteer.browser import Browser
from pyppeteer.connection import CDPSession, Connection
from pyppeteer.frame_manager import Frame
from pyppeteer.network_manager import Response
from pyppeteer.page import Page

from worker.browser.pipe import DevToolsPipe, PipeConnection
from worker.logs import get_logger

_NAVIGATING = "context"  # "Execution context was destroyed", "Cannot find context with specified id"
_RETRY_S = 0.05
_VIEWPORT = {"width": 800, "height": 600}  # pyppeteer.connect's default

log = get_logger()

__all__ = [
    "Browser",
    "Connection",
    "add_binding",
    "browser_target",
    "Frame",
    "Page",
    "Response",
    "connect",
    "disconnect",
    "first_page",
    "goto",
    "override_user_agent",
    "probe_browser_rtt_ms",
    "probe_rtt_ms",
    "request_close",
]


def _prune_done(callbacks: dict[int, asyncio.Future[Any]]) -> None:
    for key in [key for key, future in callbacks.items() if future.done()]:
        del callbacks[key]


def _mark_retrieved(futures: list[asyncio.Future[Any]]) -> None:
    for future in futures:
        if future.done() and not future.cancelled():
            future.exception()  # nobody awaits some of them: no "never retrieved" noise


def _harden_pyppeteer() -> None:
    """Make pyppeteer tolerate CDP calls that we cancelled (a timed-out probe, a cancelled task).

    pyppeteer keeps a cancelled call's future in its ``_callbacks`` and later calls
    ``set_result``/``set_exception`` on it when the answer, or the disconnect, arrives. That
    raises InvalidStateError inside its receive loop, which then dies silently and leaves CDP
    dead. We drop done futures before each dispatch, and mark the futures it rejects on close
    as retrieved. Idempotent.
    """
    if getattr(Connection, "_zapvisor_hardened", False):
        return
    conn_on_message = Connection._on_message
    conn_on_close = Connection._on_close
    session_on_message = CDPSession._on_message
    session_on_closed = CDPSession._on_closed

    @functools.wraps(conn_on_message)
    async def connection_on_message(self: Connection, message: str) -> None:
        _prune_done(self._callbacks)
        await conn_on_message(self, message)

    @functools.wraps(conn_on_close)
    async def connection_on_close(self: Connection) -> None:
        _prune_done(self._callbacks)
        pending = list(self._callbacks.values())
        await conn_on_close(self)
        _mark_retrieved(pending)

    @functools.wraps(session_on_message)
    def cdp_session_on_message(self: CDPSession, message: str) -> None:
        _prune_done(self._callbacks)
        session_on_message(self, message)

    @functools.wraps(session_on_closed)
    def cdp_session_on_closed(self: CDPSession) -> None:
        _prune_done(self._callbacks)
        pending = list(self._callbacks.values())
        session_on_closed(self)
        _mark_retrieved(pending)

    Connection._on_message = connection_on_message
    Connection._on_close = connection_on_close
    CDPSession._on_message = cdp_session_on_message
    CDPSession._on_closed = cdp_session_on_closed
    Connection._zapvisor_hardened = True


async def connect(devtools_fds: tuple[int, int], timeout: float, on_disconnected: Callable[[], None]) -> Browser:
    """Attach pyppeteer to Chrome over its DevTools pipe, ``devtools_fds`` = (read, write), which
    this takes over; ``on_disconnected`` runs if CDP drops. TimeoutError after ``timeout``."""
    _harden_pyppeteer()
    pipe = await DevToolsPipe.open(*devtools_fds)
    # What pyppeteer.connect() does, on our connection (it can only dial a websocket). No
    # launch(): we own the process, so pyppeteer installs no signal handlers of its own.
    connection = PipeConnection(pipe, asyncio.get_running_loop())
    try:
        contexts = await asyncio.wait_for(connection.send("Target.getBrowserContexts"), timeout)
        browser: Browser = await asyncio.wait_for(Browser.create(
            connection, (contexts or {}).get("browserContextIds", []), False, _VIEWPORT, None,
            lambda: connection.send("Browser.close")), timeout)
    except BaseException:
        await connection.dispose()
        await pipe.close()  # dispose skips it when the receive task had not started yet
        raise
    browser.on("disconnected", on_disconnected)
    return browser


def browser_target(browser: Browser) -> Connection:
    """The browser target's CDP connection: commands and events of the whole browser rather
    than one page (its Fetch domain sees the requests of every page and worker)."""
    connection: Connection = browser._connection
    return connection


async def first_page(browser: Browser, on_crash: Callable[[Exception], None]) -> Page:
    """The tab Chrome opened at start (or a new one); ``on_crash`` runs if its renderer dies."""
    pages = await browser.pages()
    page: Page = pages[0] if pages else await browser.newPage()
    # pyee raises an "error" event that has no listener inside pyppeteer's receive loop.
    page.on("error", on_crash)
    return page


async def add_binding(page: Page, name: str, on_call: Callable[[str], None]) -> None:
    """Give every document of ``page`` a native ``window[name](text)`` whose calls reach
    ``on_call(text)`` (CDP ``Runtime.addBinding``). It exists from a document's start, before its
    scripts; the script added with evaluateOnNewDocument can take it and hide it.

    Unlike pyppeteer's exposeFunction, this adds no wrapper the page can see. pyppeteer's own
    ``Runtime.bindingCalled`` listener (exposeFunction's) is removed: it raises inside the
    receive loop, killing CDP, for a call of a name it does not know, such as ours.
    """
    client = page._client
    client.remove_all_listeners("Runtime.bindingCalled")

    def called(event: dict[str, Any]) -> None:
        if event.get("name") != name:
            return
        try:
            on_call(str(event.get("payload", "")))
        except Exception:  # never into pyppeteer's receive loop
            log.exception("cdp.binding_failed")

    client.on("Runtime.bindingCalled", called)
    await client.send("Runtime.addBinding", {"name": name})


async def goto(page: Page, url: str, wait_until: str, timeout_s: float) -> Response | None:
    """Navigate ``page`` to ``url`` and wait for ``wait_until`` ("load", "domcontentloaded");
    the main response (None for about:blank and the like). TimeoutError after ``timeout_s``.

    pyppeteer's own goto timeout does not cover CDP Page.navigate, which Chrome answers only
    once the response starts: a server that never answers would hang it forever. Hence the
    outer wait, a second longer so that pyppeteer's own timeout normally fires first.
    """
    try:
        response: Response | None = await asyncio.wait_for(
            page.goto(url, waitUntil=wait_until, timeout=int(timeout_s * 1000)), timeout_s + 1.0
        )
    except TimeoutError:
        raise TimeoutError(f"{url} did not load within {timeout_s:g}s") from None
    return response


async def override_user_agent(page: Page, user_agent: str, metadata: dict[str, Any]) -> None:
    """Set ``page``'s user agent together with its client hints (``navigator.userAgentData``).

    pyppeteer's setUserAgent sends no client hints, which leaves userAgentData empty (unlike
    any desktop Chrome): this sends CDP ``Network.setUserAgentOverride`` on the page's session.
    """
    await page._client.send("Network.setUserAgentOverride",
                            {"userAgent": user_agent, "userAgentMetadata": metadata})


async def probe_rtt_ms(page: Page, timeout: float) -> float | None:
    """Round-trip time of a trivial ``evaluate`` in the page, in ms; None on failure/timeout.

    While the page navigates, its JS context is briefly gone ("Execution context was
    destroyed"): Chrome did answer, so the probe retries within ``timeout`` instead of failing.
    """
    deadline = time.monotonic() + timeout
    while True:
        started = time.monotonic()
        try:
            await asyncio.wait_for(page.evaluate("() => 1"), max(deadline - started, 0.001))
        except Exception as exc:  # timeout, closed target, protocol error
            if _NAVIGATING in str(exc) and time.monotonic() + _RETRY_S < deadline:
                await asyncio.sleep(_RETRY_S)
                continue
            log.debug("cdp.probe_error", error=repr(exc))
            return None
        return round((time.monotonic() - started) * 1000.0, 3)


async def probe_browser_rtt_ms(browser: Browser, timeout: float) -> float | None:
    """Round-trip time of CDP ``Browser.getVersion`` (the browser process only), in ms; None on failure.

    Answers even while the page is mid-navigation, when Chrome holds page-session commands
    until the new document commits (seen here: a slow server stalls ``evaluate`` for as long).
    """
    started = time.monotonic()
    try:
        await asyncio.wait_for(browser.version(), timeout)
    except Exception as exc:
        log.debug("cdp.browser_probe_error", error=repr(exc))
        return None
    return round((time.monotonic() - started) * 1000.0, 3)


async def _quietly(call: Awaitable[Any], timeout: float) -> bool:
    try:
        await asyncio.wait_for(call, timeout)
    except Exception:  # the connection drops as Chrome exits: expected here
        return False
    return True


async def request_close(browser: Browser, timeout: float) -> bool:
    """Send CDP ``Browser.close`` (Chrome flushes its profile and exits); True if acknowledged."""
    return await _quietly(browser.close(), timeout)


async def disconnect(browser: Browser, timeout: float) -> None:
    """Close pyppeteer's websocket; never raises."""
    await _quietly(browser.disconnect(), timeout)
