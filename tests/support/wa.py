"""Helpers for the WhatsApp end-to-end tests: a daemon on the simulator, logging a session in the
way a person would (scan what the API shows), reading events, and reading a QR PNG back.

The driver never sees the simulator's /_sim controls; only these tests use them, to play the
phone and WhatsApp's servers.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import segno

from tests.support.daemon import API_KEY, Daemon
from tests.support.procs import kill_marked, wait_until
from tests.support.sse import SSEClient
from tests.wasim import RunningSimulator, SimError, run_simulator

PHONE_A = "244929782402"
PHONE_B = "244929782403"
PHONE_C = "244929782404"
CONTACT = "5511999999999"
#: The contact's chat id, and a number that is not on WhatsApp.
CHAT = f"{CONTACT}@c.us"
NOBODY = "5511977776666"

#: Simulator timings for tests: a page ready in ~0.2 s, linked in ~0.3 s.
FAST_SIM = {"boot_ms": 100, "open_ms": 50, "sync_ms": 150, "logout_nav_ms": 100, "ack_delay_ms": 50}
#: On top of FAST_SIM for the 2026 build: late modules after 0.2 s, a 0.3 s first sync.
FAST_SIM_2026 = {"late_modules_ms": 200, "first_sync_ms": 300}


@contextmanager
def fast_simulator(ref_ttl_s: float, build: str = "2024") -> Iterator[RunningSimulator]:
    """The simulator with test timings; a new QR code every ``ref_ttl_s`` seconds; ``build``
    "2024" (default) or "2026" (see tests/wasim/config.py)."""
    timings: dict[str, Any] = FAST_SIM | (FAST_SIM_2026 if build == "2026" else {})
    with run_simulator(ref_ttl_s=ref_ttl_s, build=build, **timings) as sim:
        yield sim


def wa_daemon(workdir: Path, port: int, sim: RunningSimulator, **overrides: dict[str, Any]) -> Daemon:
    """A daemon whose sessions run the WhatsApp driver against ``sim``."""
    whatsapp = {"driver": "whatsapp", "ready_timeout_s": 20.0, "qr_timeout_s": 20.0}
    whatsapp.update(overrides.pop("whatsapp", {}))
    sessions = {"cleanup_delay_s": 0.2, "start_timeout_s": 30.0}
    sessions.update(overrides.pop("sessions", {}))
    return Daemon(workdir, port, sim.url, whatsapp=whatsapp, sessions=sessions, **overrides)


@contextmanager
def serving(d: Daemon, preexec_fn: Callable[[], None] | None = None) -> Iterator[Daemon]:
    """``d`` started (``preexec_fn`` as Daemon.start takes it); afterwards stopped, and anything
    of its state dir swept, whatever happened."""
    try:
        yield d.start(preexec_fn=preexec_fn)
    finally:
        d.stop()
        kill_marked(d.state_dir)


def page_showing(sim: RunningSimulator, qr: str) -> dict[str, Any]:
    """The simulator's record of the page that shows ``qr`` (AssertionError if none does)."""
    pages = [c for c in sim.clients() if c["qr"] == qr]
    assert len(pages) == 1, f"no page shows {qr[:30]}…: {sim.clients()}"
    return pages[0]


def login(d: Daemon, sim: RunningSimulator, session_id: str, phone: str) -> dict[str, Any]:
    """Scan the QR code the API offers with ``phone``; the session's info once WORKING.
    Like a person, scan again if the QR was replaced in the meantime (the phone says so: 409)."""
    d.wait_state(session_id, "SCAN_QR_CODE", timeout=30)
    scan_offered(d, sim, session_id, phone)
    return d.wait_state(session_id, "WORKING", timeout=30)


def scan_offered(d: Daemon, sim: RunningSimulator, session_id: str, phone: str) -> None:
    """Scan the QR code the API offers now with ``phone``; again if it was replaced in the
    meantime (the phone says so: 409)."""
    def scanned() -> bool:
        qr = d.client.get(f"/api/sessions/{session_id}/qr?format=raw")["value"]
        try:
            sim.scan(qr=qr, phone=phone)
        except SimError as exc:
            if exc.status != 409:
                raise
            return False
        return True

    wait_until(scanned, timeout=15, message=f"a scan of {session_id}'s QR code")


def stream(d: Daemon, names: str = "", after: int = 0, session: str | None = None) -> SSEClient:
    """The daemon's events from id ``after`` on (its history, then live)."""
    scope = f"sessions/{session}/" if session else ""
    url = f"http://127.0.0.1:{d.port}/api/{scope}events?events={names}"
    return SSEClient(url, API_KEY, last_event_id=after, timeout=30)


def wait_event(d: Daemon, predicate: Callable[[dict[str, Any]], bool], names: str = "",
               after: int = 0, session: str | None = None, timeout: float = 20) -> list[dict[str, Any]]:
    """Every event (of ``names``) after ``after`` up to the first that matches; AssertionError
    if none does within ``timeout``."""
    with stream(d, names, after, session) as events:
        events.read_until(lambda m: predicate(m.data), timeout)
        return [m.data for m in events.seen]


def png_modules(png: bytes) -> list[list[bool]]:
    """The QR symbol drawn in a 1-bit grayscale PNG (as segno writes it): its dark modules."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos:pos + 4]), png[pos + 4:pos + 8]
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (1, 0), "expected 1-bit grayscale"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), (width + 7) // 8
    rows: list[bytearray] = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        prior = rows[-1] if rows else bytearray(stride)
        for x in range(stride):
            left, up, corner = (line[x - 1] if x else 0), prior[x], (prior[x - 1] if x else 0)
            line[x] = (line[x] + _predict(kind, left, up, corner)) & 0xFF
        rows.append(line)
    dark = [[not (rows[y][x // 8] >> (7 - x % 8)) & 1 for x in range(width)] for y in range(height)]
    top = next(y for y, row in enumerate(dark) if any(row))
    left = dark[top].index(True)
    run = next(x for x in range(left, width) if not dark[top][x]) - left
    scale = run // 7  # the top-left finder pattern is 7 modules wide
    count = (max(x for x in range(width) if dark[top][x]) - left + 1) // scale
    return [[dark[top + r * scale + scale // 2][left + c * scale + scale // 2] for c in range(count)]
            for r in range(count)]


def _predict(kind: int, left: int, up: int, corner: int) -> int:
    """PNG filter predictors (bytes of a 1-bit image: one byte per pixel step)."""
    if kind == 4:  # Paeth
        p = left + up - corner
        pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
        return left if pa <= pb and pa <= pc else up if pb <= pc else corner
    return {0: 0, 1: left, 2: up, 3: (left + up) // 2}[kind]


def qr_modules(value: str) -> list[list[bool]]:
    """The QR symbol of ``value`` as the daemon renders it (segno, error level L)."""
    return [[bool(v) for v in row] for row in segno.make_qr(value, error="l").matrix]
