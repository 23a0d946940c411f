"""The heartbeat and the CDP probes: two schedules, so that a heartbeat stays tiny.

The heartbeat says one thing: this worker's event loop runs. It starts as soon as the boot
request arrives (a Chrome launch on a busy host may take a while, and the worker is alive all
along), fires on a fixed grid of ``heartbeat_interval_s``, and sends event ``heartbeat``
{"seq", "cdp_rtt_ms", "browser_rtt_ms", "probe_failures", "page_stalled_s"}: a few dozen bytes,
with the latest results of the probes, never a measurement (memory and CPU are sampled by the
supervisor on its own, slower schedule).

The probes run every ``probe_interval_s`` once Chrome is attached, both at once, each with a
timeout of max(interval, 2 s):

- ``cdp_rtt_ms``: ``evaluate("() => 1")`` in the page (renderer and page session);
- ``browser_rtt_ms``: ``Browser.getVersion`` (browser process and the DevTools pipe).

Chrome holds page-session commands while the page navigates, so a page probe alone is
routinely lost during a slow load. The worker only reports: ``probe_failures`` (rounds in a
row where both failed) and ``page_stalled_s`` (how long the page probe has failed). The
supervisor, which sees every session and the host, decides whether that is a hung Chrome or a
starved machine (supervisor.sessions.liveness).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from worker import protocol
from worker.browser import cdp
from worker.drivers.base import Emit
from worker.logs import get_logger

__all__ = ["Probes", "run_heartbeat"]

log = get_logger()


class Probes:
    """The latest CDP probe results of one session."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.timeout_s = max(interval_s, 2.0)
        self.cdp_rtt_ms: float | None = None
        self.browser_rtt_ms: float | None = None
        self.failures = 0
        self._page_stalled_since: float | None = None

    def snapshot(self) -> dict[str, Any]:
        """What the next heartbeat carries."""
        stalled = self._page_stalled_since
        return {"cdp_rtt_ms": self.cdp_rtt_ms, "browser_rtt_ms": self.browser_rtt_ms,
                "probe_failures": self.failures,
                "page_stalled_s": round(time.monotonic() - stalled, 1) if stalled else 0.0}

    def record(self, page_rtt: float | None, browser_rtt: float | None) -> None:
        """Take one round's results."""
        self.cdp_rtt_ms, self.browser_rtt_ms = page_rtt, browser_rtt
        self.failures = self.failures + 1 if page_rtt is None and browser_rtt is None else 0
        if page_rtt is None:
            self._page_stalled_since = self._page_stalled_since or time.monotonic()
            # A page probe alone is routinely lost while a navigation commits: info, not warning.
            (log.warning if self.failures else log.info)("cdp.probe_failed", failures=self.failures)
        else:
            self._page_stalled_since = None

    async def run(self, page: cdp.Page, browser: cdp.Browser) -> None:
        """Probe until cancelled."""
        next_at = time.monotonic()
        while True:
            self.record(*await asyncio.gather(cdp.probe_rtt_ms(page, self.timeout_s),
                                              cdp.probe_browser_rtt_ms(browser, self.timeout_s)))
            next_at = max(next_at + self.interval_s, time.monotonic())
            await asyncio.sleep(next_at - time.monotonic())


async def run_heartbeat(interval_s: float, emit: Emit, probes: Probes) -> None:
    """Beat on a fixed grid until cancelled (a late beat never shifts the schedule)."""
    seq = 0
    next_at = time.monotonic()
    while True:
        seq += 1
        await emit(protocol.EV_HEARTBEAT, {"seq": seq, **probes.snapshot()})
        next_at = max(next_at + interval_s, time.monotonic())
        await asyncio.sleep(next_at - time.monotonic())
