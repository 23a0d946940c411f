"""A page that carries our script in every document: load it with bounded waits, wait until the
script says the page is ready, install it, call it, and hear from it.

Knows nothing of WhatsApp: the script (worker/drivers/wa_inject.js) does. The script defines
``window.__zapvisor`` with ``ready()``, ``version()``, ``missing(stage)`` (what of a stage's needs
the page does not offer yet) and ``install(generation, stage)``; events reach ``on_event``
through one CDP binding, and main-frame navigations arrive on the same path as
``{"type": "navigated", "url", "seq"}``.

The page may run scripts that are not ours, and an event it could forge (a logout deletes the
profile) must not be taken for the script's. So: the binding's name is random (per page), and
the script takes the binding off ``window`` at the start of each document, before any other
script runs; each ``attach`` gives the script a new random generation token, and an event
counts only if it carries the current one (:meth:`ScriptedPage.is_current`).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import itertools
import json
import re
import secrets
import time
import weakref
from collections.abc import Callable
from typing import Any

from worker.browser import cdp
from worker.browser.cdp import Frame, Page
from worker.drivers.base import DriverFatal
from worker.logs import get_logger

__all__ = ["PageIncomplete", "ScriptedPage", "desktop_user_agent"]

_POLL_S = 0.2
_CALL_TIMEOUT_S = 15.0

log = get_logger()
_SINKS: weakref.WeakKeyDictionary[Page, Callable[[dict[str, Any]], None]] = weakref.WeakKeyDictionary()


class PageIncomplete(Exception):
    """The page still lacks some of what a stage needs at its deadline."""

    def __init__(self, version: str, stage: str, missing: list[str]) -> None:
        super().__init__(f"WhatsApp Web {version} lacks {', '.join(missing)}")
        self.version, self.stage, self.missing = version, stage, missing


def _deliver(page: Page, payload: str) -> None:
    """A call of the page's binding: one event of the script, as JSON."""
    sink = _SINKS.get(page)
    try:
        event = json.loads(payload)
    except ValueError:
        return
    # "navigated" comes from the worker itself (_navigated), never through the page.
    if sink is not None and isinstance(event, dict) and event.get("type") != "navigated":
        sink(event)


def desktop_user_agent(browser_ua: str) -> str:
    """Chrome's own user agent without the headless marker (WhatsApp Web refuses "HeadlessChrome")."""
    return re.sub(r"HeadlessChrome/", "Chrome/", browser_ua)


def _ua_metadata(user_agent: str) -> dict[str, Any]:
    """Client hints matching ``user_agent`` (a Chromium on Linux)."""
    found = re.search(r"Chrome/([\d.]+)", user_agent)
    full = found.group(1) if found else "0.0.0.0"
    major = full.split(".")[0]
    brands = [{"brand": "Chromium", "version": major}, {"brand": "Not_A Brand", "version": "24"}]
    return {"brands": brands, "fullVersionList": [{**brands[0], "version": full}, brands[1]],
            "fullVersion": full, "platform": "Linux", "platformVersion": "", "architecture": "x86",
            "model": "", "mobile": False}


class ScriptedPage:
    """One session's page, with ``script`` added to every new document."""

    def __init__(self, page: Page, url: str, user_agent: str, ready_timeout_s: float, script: str,
                 on_event: Callable[[dict[str, Any]], None]) -> None:
        """``user_agent`` "" means Chrome's own, without its headless marker."""
        self.page = page
        self._url = url
        self._user_agent = user_agent
        self._ready_timeout_s = ready_timeout_s
        self._script = script
        self._on_event = on_event
        self._navigations = itertools.count(1)
        self._last_navigation = 0
        self._attached_after = 0  # navigations up to this one happened before the latest attach
        self.generation = ""  # the latest attach's random token; "" before the first

    async def prepare(self) -> None:
        """User agent, binding, script and navigation listener: before the first load."""
        page = self.page
        user_agent = self._user_agent or desktop_user_agent(await page.browser.userAgent())
        await cdp.override_user_agent(page, user_agent, _ua_metadata(user_agent))
        # The worker runs a new driver on the same page after a renderer crash: the binding and
        # the script are registered once per page, and events go to the latest ScriptedPage.
        first = page not in _SINKS
        _SINKS[page] = self._on_event
        if first:
            binding = f"__zv_{secrets.token_hex(16)}"
            await cdp.add_binding(page, binding, functools.partial(_deliver, page))
            # evaluateOnNewDocument wraps its argument as a function: give it one, which hands
            # the script the binding's name.
            await page.evaluateOnNewDocument("(bindingName) => {\n" + self._script + "\n}", binding)
        page.on("framenavigated", self._navigated)

    def close(self) -> None:
        """Stop listening to the page (the driver is done with it)."""
        self.page.remove_listener("framenavigated", self._navigated)

    def _navigated(self, frame: Frame) -> None:
        if frame is self.page.mainFrame:
            self._last_navigation = next(self._navigations)
            self._on_event({"type": "navigated", "url": frame.url, "seq": self._last_navigation})

    def is_current(self, event: dict[str, Any]) -> bool:
        """Whether a script event comes from the latest ``install``: not from a document we
        left, nor from any other script of the page (it cannot know the token)."""
        token = event.get("gen")
        return bool(self.generation) and isinstance(token, str) and hmac.compare_digest(token, self.generation)

    def is_current_navigation(self, event: dict[str, Any]) -> bool:
        """Whether a navigation event happened after the latest ``attach`` began."""
        return int(event.get("seq", 0)) > self._attached_after

    async def load(self) -> None:
        """Open the URL; DriverFatal if it cannot be loaded within ``ready_timeout_s``."""
        timeout = self._ready_timeout_s
        try:
            response = await cdp.goto(self.page, self._url, "domcontentloaded", timeout)
        except TimeoutError:
            raise DriverFatal(f"page never loaded: {self._url} did not answer within {timeout:g}s "
                              "(ready_timeout_s)") from None
        except Exception as exc:  # pyppeteer's PageError/NetworkError: net::ERR_…
            raise DriverFatal(f"page never loaded: {self._url}: {exc}") from None
        if response is not None and response.status >= 400:
            raise DriverFatal(f"page never loaded: {self._url} answered HTTP {response.status}")
        log.info("page.loaded", url=self._url)

    async def attach(self, stage: str) -> dict[str, Any]:
        """Wait until the script reports the page ready and ``stage``'s needs are there, install
        it; the page's state then. PageIncomplete if needs are still missing at the deadline."""
        self._attached_after = self._last_navigation
        self.generation = secrets.token_hex(16)
        deadline = time.monotonic() + self._ready_timeout_s
        while not await self._probe("() => !!(window.__zapvisor && window.__zapvisor.ready())", deadline):
            if time.monotonic() >= deadline:
                raise DriverFatal(f"page never became ready: WhatsApp Web's modules missing after "
                                  f"{self._ready_timeout_s:g}s (ready_timeout_s) at {self.page.url}")
            await asyncio.sleep(_POLL_S)
        snapshot = await self.open_stage(stage, deadline)
        log.info("page.attached", generation=self.generation, state=snapshot.get("state"),
                 version=snapshot.get("version"))
        return snapshot

    async def open_stage(self, stage: str, deadline: float) -> dict[str, Any]:
        """Wait (until ``deadline``, monotonic) for the modules ``stage`` needs, which register a
        while after the page announced itself, then install its listeners; the page's state.
        PageIncomplete if some are still missing at the deadline."""
        while True:
            missing: list[str] = await self.call("missing", stage)
            if not missing:
                break
            if time.monotonic() >= deadline:
                raise PageIncomplete(str(await self.call("version")), stage, missing)
            await asyncio.sleep(_POLL_S)
        snapshot: dict[str, Any] = await self.call("install", self.generation, stage)
        return snapshot

    async def _probe(self, js: str, deadline: float) -> bool:
        # While the page navigates its context is gone, or Chrome holds the call until the new
        # document commits: both count as "not yet", within the deadline.
        try:
            return bool(await asyncio.wait_for(self.page.evaluate(js),
                                               max(0.05, deadline - time.monotonic())))
        except Exception:
            return False

    async def call(self, name: str, *args: Any, timeout_s: float = _CALL_TIMEOUT_S) -> Any:
        """``window.__zapvisor[name](*args)`` in the page, awaited; TimeoutError after ``timeout_s``."""
        js = "(name, ...args) => window.__zapvisor[name](...args)"
        return await asyncio.wait_for(self.page.evaluate(js, name, *args), timeout_s)
