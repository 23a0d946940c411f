"""The dashboard's pictures, and what a new user tripped over on it, in real Chromium against a
real daemon whose sessions run real Chrome on the WhatsApp Web simulator: charts of the daemon
and of a session from the history the daemon keeps (GET /api/history), the latest activity
from the event history (there on every load), the WhatsApp panel of a linked session, notices
that go once the QR code shows, and a QR code drawn at a whole number of device pixels per
module on a phone. Over plain HTTP first: the two read-only answers the page uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import (
    blocking,
    chromium,
    open_tab,
    png_rows,
    shown_qr,
    sign_in,
)
from tests.support.daemon import Daemon
from tests.support.procs import wait_until
from tests.support.receiver import Receiver
from tests.support.wa import (
    CONTACT,
    FAST_SIM,
    PHONE_A,
    login,
    qr_modules,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator, run_simulator

# -- over HTTP ------------------------------------------------------------------------------


def test_latest_events_and_history_over_http(plain_daemon: Daemon) -> None:
    d = plain_daemon
    for s in ("h-a", "h-b", "h-c"):
        d.client.post("/api/sessions", {"id": s, "start": False})
    d.client.delete("/api/sessions/h-c")
    latest = d.client.get("/api/events?format=json&limit=2")
    assert [(e["event"], e["session"]) for e in latest["events"]] == [
        ("session.created", "h-c"), ("session.deleted", "h-c")]
    assert latest["last_id"] == latest["events"][-1]["id"] and latest["oldest_id"] >= 1
    only = d.client.get("/api/sessions/h-a/events?format=json&exclude=session.status")["events"]
    assert [e["event"] for e in only] == ["session.created"]
    created = d.client.get("/api/events?format=json&events=session.*&exclude=session.deleted")["events"]
    assert [e["session"] for e in created] == ["h-a", "h-b", "h-c"]
    after = d.client.get(f"/api/events?format=json&last_event_id={created[1]['id']}")["events"]
    assert [e["id"] for e in after][0] == created[1]["id"] + 1

    fleet = d.client.get("/api/history?bucket=3600")
    assert fleet["bucket_s"] == 3600 and fleet["session"] is None and 24 <= len(fleet["times"]) <= 25
    assert set(fleet["series"]) == {"messages_received", "messages_sent", "restarts",
                                    "webhook_queue", "webhook_queue_max"}
    assert all(len(v) == len(fleet["times"]) for v in fleet["series"].values())
    one = d.client.get(f"/api/history?session=h-a&since={int(fleet['until']) - 600}")
    assert one["session"] == "h-a" and one["bucket_s"] == 60 and {"memory_bytes", "cpu_percent_max"} <= set(one["series"])

    for path, status, needle in [
        ("/api/events?format=xml", 400, "format"),
        ("/api/events?format=json&limit=0", 400, "limit"),
        ("/api/events?format=json&exclude=Not-A-Name", 400, "exclude"),
        ("/api/history?bucket=90", 400, "multiple of 60"),
        ("/api/history?since=0&bucket=60", 400, "at most 1440"),
        ("/api/history?since=yesterday", 400, "since"),
        ("/api/history?session=-bad", 400, "session"),
        ("/api/history?session=h-c", 404, "h-c"),
        ("/api/history?sessions=h-a", 400, "sessions"),
    ]:
        got, _, body = d.call("GET", path)
        assert got == status and needle in body["error"]["message"], (path, body)


# -- in a real browser ----------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    # A QR code that stays 20 s: the test reads its pixels on screen.
    with run_simulator(ref_ttl_s=20.0, **FAST_SIM) as running:
        yield running


@pytest.fixture
def daemon(workdir: Path, free_port: int, sim: RunningSimulator) -> Iterator[Daemon]:
    # A receiver that refuses everything: the webhook deliveries wait in the queue.
    with Receiver(status=503) as rx, serving(wa_daemon(
            workdir, free_port, sim, events={"resource_interval_s": 1.0},
            limits={"sample_interval_s": 1.0},
            webhooks={"url": rx.url(), "allow_private_networks": True})) as d:
        yield d


def _history(d: Daemon, session: str | None = None) -> dict[str, list[Any]]:
    query = f"&session={session}" if session else ""
    series: dict[str, list[Any]] = d.client.get(f"/api/history?bucket=3600{query}")["series"]
    return series


POINTS = "s => Number((document.querySelector(s) || {dataset: {}}).dataset.points || 0)"


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_charts_latest_activity_and_a_linked_session(workdir: Path, daemon: Daemon,
                                                           sim: RunningSimulator) -> None:
    # Before any page is open: a linked session, messages out and in, a restart.
    d = daemon
    await blocking(d.client.post, "/api/sessions", {"id": "chart-a"})
    await blocking(login, d, sim, "chart-a", PHONE_A)
    for text in ("one", "two"):
        await blocking(d.client.post, "/api/sessions/chart-a/messages", {"to": CONTACT, "text": text})
    await blocking(sim.incoming, f"{CONTACT}@c.us", "hello", phone=PHONE_A)
    before = (await blocking(d.client.get, "/api/events?format=json&limit=1"))["last_id"]
    await blocking(d.client.post, "/api/sessions/chart-a/restart")
    await blocking(wait_event, d, lambda e: e["payload"].get("state") == "WORKING",
                   "session.status", before, "chart-a", 60)
    # The history counts each exactly once, for the session and for the daemon.
    for scope in (None, "chart-a"):
        await blocking(wait_until, lambda s=scope: (sum(_history(d, s)["messages_received"]),
                                                    sum(_history(d, s)["messages_sent"]),
                                                    sum(_history(d, s)["restarts"])) == (1, 2, 1),
                       30, message=f"the history of {scope}")
    await blocking(wait_until, lambda: any(v and v >= 1 for v in _history(d)["webhook_queue_max"]),
                   40, message="a webhook queue sample")
    await blocking(wait_until, lambda: len([v for v in _history(d, "chart-a")["cpu_percent"] if v is not None]),
                   30, message="a CPU sample")

    async with chromium(workdir / "browser") as browser:
        tab = await open_tab(browser, d, "desktop")
        await sign_in(tab)
        # The latest activity is there at once, from the history; again after a reload.
        for _reload in (False, True):
            if _reload:
                await tab.page.reload({"waitUntil": "load"})
                await tab.visible("#top")
            await tab.visible('#activity li[data-event="session.restart"]')
            await tab.visible('#activity li[data-event="message.sent"]')
            assert await tab.page.evaluate(
                "() => document.querySelectorAll('#activity li[data-event=\"session.resource\"]').length") == 0
        # The fleet's charts: messages both ways, the restart, the waiting webhooks.
        await tab.until(f"() => ({POINTS})('#chart-messages') >= 2", what="message bars")
        assert await tab.page.evaluate("() => document.querySelectorAll('#chart-messages rect.bar.s1').length") >= 1
        await tab.until(f"() => ({POINTS})('#chart-restarts') >= 1", what="a restart bar")
        await tab.until(f"() => ({POINTS})('#chart-webhooks') >= 1", what="webhook queue points")
        await tab.has_text("#chart-webhooks-latest", "waiting")
        assert int((await tab.text("#chart-webhooks-latest")).split()[0]) >= 1
        label = await tab.page.evaluate("() => document.querySelector('#chart-messages svg').getAttribute('aria-label')")
        assert label.startswith("Messages per hour, last ") and "highest" in label, label
        # "Session limit": one line, not wrapped.
        await tab.until("() => document.querySelector('#daemon-limit').textContent !== ''")
        assert await tab.page.evaluate("() => { const r = document.createRange();"
                                       " r.selectNodeContents(document.querySelector('#daemon-limit'));"
                                       " return r.getClientRects().length; }") == 1
        await tab.shot("overview-charts")

        # The session's page: memory and CPU over time, its messages, and a compact panel.
        await tab.click('#activity a[href="/sessions/chart-a"]')
        await tab.until(f"() => ({POINTS})('#chart-memory') >= 1", what="memory points")
        await tab.has_text("#chart-memory-latest", "MB")
        await tab.until(f"() => ({POINTS})('#chart-cpu') >= 1", what="CPU points")
        await tab.has_text("#chart-cpu-latest", "%")
        await tab.until(f"() => ({POINTS})('#chart-session-messages') >= 2", what="the session's message bars")
        info = await blocking(d.session, "chart-a")
        assert info["wa_version"] and info["sync_percent"] is not None
        await tab.has_text("#linked-phone", f"+{PHONE_A}")
        await tab.has_text("#detail-wa-version", info["wa_version"])
        await tab.has_text("#detail-sync", f"{info['sync_percent']:g} %")
        await tab.has_text("#detail-queue", "empty")
        await tab.has_text("#detail-messages", "2 sent · 1 received")
        # The panel takes one row of the grid: it ends above the send form.
        assert await tab.page.evaluate(
            "() => document.querySelector('.login-panel').getBoundingClientRect().bottom"
            " <= document.querySelector('form.send').closest('section').getBoundingClientRect().top")
        await tab.shot("session-charts")
        assert tab.errors == []


RECORD_TOASTS = """() => {
  window.__toasts = [];
  new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach(
    (n) => window.__toasts.push(n.textContent)))).observe(document.getElementById('toasts'), {childList: true});
}"""


def _runs(png: bytes, per_module: int) -> tuple[list[int], int]:
    """Along the middle of each row of modules on screen: the lengths of the runs of one
    colour between the first and the last dark pixel, and how many pixels were neither
    black nor white (blurred)."""
    bpp, rows = png_rows(png)
    width = len(rows[0]) // bpp
    dark = [[row[x * bpp] < 128 for x in range(width)] for row in rows]
    blurred = sum(1 for row in rows for x in range(width) if 48 < row[x * bpp] < 208)
    top = next(y for y, line in enumerate(dark) if any(line))
    runs: list[int] = []
    for y in range(top + per_module // 2, len(rows), per_module):
        line = dark[y]
        if not any(line):
            continue
        first, last = line.index(True), width - 1 - line[::-1].index(True)
        run = 1
        for x in range(first + 1, last + 1):
            if line[x] == line[x - 1]:
                run += 1
            else:
                runs.append(run)
                run = 1
        runs.append(run)
    return runs, blurred


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_phone_qr_is_sharp_and_notices_go_when_it_shows(workdir: Path, daemon: Daemon) -> None:
    async with chromium(workdir / "browser") as browser:
        tab = await open_tab(browser, daemon, "phone", "/sessions")
        await sign_in(tab)
        await tab.page.evaluate(RECORD_TOASTS)
        await tab.visible("#new-id")
        await tab.page.focus("#new-id")
        await tab.page.keyboard.type("qr-b")
        await tab.page.keyboard.press("Enter")
        await tab.until("() => location.pathname === '/sessions/qr-b'", what="the session page")
        qr = await shown_qr(tab)
        # "Session qr-b created." was shown, and is gone now that the code is there.
        assert "Session qr-b created." in "".join(await tab.page.evaluate("() => window.__toasts"))
        assert await tab.page.evaluate("() => document.querySelectorAll('#toasts .toast').length") == 0

        # Drawn at a whole number of device pixels per module, as large as the screen allows.
        await tab.page.evaluate("() => window.scrollTo(0, 0)")
        modules, width, dpr, clip = await tab.page.evaluate(
            "() => { const i = document.querySelector('#qr'), r = i.getBoundingClientRect(),"
            " w = parseFloat(getComputedStyle(i).width);"
            " return [Number(i.dataset.modules), w, devicePixelRatio,"
            " {x: r.x + i.clientLeft, y: r.y + i.clientTop, width: w, height: w}]; }")
        assert modules == len(qr_modules(qr)) + 8  # the symbol and its quiet zone
        per_module = width * dpr / modules
        assert per_module == int(per_module) and width >= 250, (width, dpr, modules)
        # And on the screen: every run of one colour along a row is a whole number of modules.
        runs, blurred = _runs(await tab.page.screenshot({"clip": clip}), int(per_module))
        assert runs and blurred == 0 and {r % int(per_module) for r in runs} == {0}, sorted(set(runs))
        assert await tab.page.evaluate("() => document.documentElement.scrollWidth") <= 390
        await tab.shot("session-qr-sharp")

        # Stopped, then started from the page: "Starting qr-b." goes when the new code shows.
        await blocking(daemon.client.post, "/api/sessions/qr-b/stop")
        await tab.has_text("#session-state", "Stopped", timeout=30)
        await tab.click("main > .actions button[data-action=start]")
        await tab.until("() => window.__toasts.some((t) => t.startsWith('Starting qr-b.'))",
                        what="the Starting notice")
        await shown_qr(tab)
        assert await tab.page.evaluate("() => document.querySelectorAll('#toasts .toast').length") == 0

        # The overview's charts fit a phone's width.
        await tab.page.focus('a[href="/"][data-nav]')
        await tab.page.keyboard.press("Enter")
        await tab.until("() => document.querySelector('#chart-messages')"
                        " && document.querySelector('#chart-messages-latest').textContent !== '—'")
        assert await tab.page.evaluate("() => document.documentElement.scrollWidth") <= 390
        await tab.shot("overview-charts")
        assert tab.errors == []
