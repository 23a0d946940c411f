"""The heartbeat: produced by the worker's event loop, with CDP probes and the tree's memory.

Every ``interval`` seconds (a fixed grid; a slow probe delays one beat, never the schedule)
send event ``heartbeat`` {"seq", "cdp_rtt_ms", "browser_rtt_ms", "chrome_pid", "pss_bytes",
"processes"}. Two probes run at once, each with timeout max(interval, 2 s):

- ``cdp_rtt_ms``: ``evaluate("() => 1")`` in the page (renderer and page session);
- ``browser_rtt_ms``: ``Browser.getVersion`` (browser process and the CDP socket).

Chrome holds page-session commands while the page navigates to a new document, so a page
probe alone would fail during any slow load. Hence two verdicts:

- both probes fail ``CDP_STRIKES`` times in a row -> "Chrome not answering CDP" (exit 1,
  ExitKind.CDP_UNRESPONSIVE);
- only the page probe fails, for longer than page_timeout_s + the probe timeout
  -> "page not answering CDP" (exit 1, ExitKind.PAGE_UNRESPONSIVE): a hung renderer.
"""

from __future__ import annotations

import asyncio
import time

from worker import protocol
from worker.browser import cdp
from worker.drivers.base import Emit
from worker.logs import get_logger
from worker.session import Session, measure
from worker.watchers import RequestStop

CDP_STRIKES = 3

log = get_logger()


async def run_heartbeat(session: Session, emit: Emit, request_stop: RequestStop) -> None:
    """Beat until cancelled, or until a liveness verdict asks the worker to stop."""
    interval = session.spec["heartbeat_interval_s"]
    probe_timeout = max(interval, 2.0)
    page_stall_limit = session.spec["page_timeout_s"] + probe_timeout
    strikes = 0
    page_stalled_since: float | None = None
    seq = 0
    next_at = time.monotonic()
    while True:
        seq += 1
        page_rtt, browser_rtt = await asyncio.gather(
            cdp.probe_rtt_ms(session.page, probe_timeout),
            cdp.probe_browser_rtt_ms(session.browser, probe_timeout),
        )
        pss, processes = await asyncio.to_thread(measure, session.chrome)
        await emit(
            protocol.EV_HEARTBEAT,
            {
                "seq": seq,
                "cdp_rtt_ms": page_rtt,
                "browser_rtt_ms": browser_rtt,
                "chrome_pid": session.chrome.pid,
                "pss_bytes": pss,
                "processes": processes,
            },
        )
        now = time.monotonic()
        strikes = strikes + 1 if page_rtt is None and browser_rtt is None else 0
        if page_rtt is None:
            page_stalled_since = page_stalled_since or now
            # A page probe alone is routinely lost while a navigation commits: info, not warning.
            level = log.warning if strikes else log.info
            level("cdp.probe_failed", strikes=strikes, page_stalled_s=round(now - page_stalled_since, 3))
        else:
            page_stalled_since = None
        if strikes >= CDP_STRIKES:
            request_stop(protocol.EXIT_CRASH, protocol.ExitKind.CDP_UNRESPONSIVE, "Chrome not answering CDP")
            return
        if page_stalled_since is not None and now - page_stalled_since > page_stall_limit:
            request_stop(protocol.EXIT_CRASH, protocol.ExitKind.PAGE_UNRESPONSIVE,
                         f"page not answering CDP for {now - page_stalled_since:.1f}s")
            return
        next_at = max(next_at + interval, time.monotonic())
        await asyncio.sleep(next_at - time.monotonic())
