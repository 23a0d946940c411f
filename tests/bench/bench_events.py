"""Benchmark: events per second through the bus (journal included) to SSE clients and to a
local webhook receiver, and the outbox's latency when the receiver is down, then up.

The bus, its SQLite journal, the HTTP app and the delivery loop run here exactly as in the
daemon (one event loop); every client and receiver is a separate process, so they do not share
this loop or its GIL. Run from a checkout:

    .venv/bin/python tests/bench/bench_events.py [--events 5000] [--down-s 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from supervisor import config  # noqa: E402
from supervisor.api import app as api  # noqa: E402
from supervisor.api.keys import HUB  # noqa: E402
from supervisor.hub import Hub  # noqa: E402
from supervisor.logs import configure  # noqa: E402
from supervisor.sessions.registry import Registry  # noqa: E402
from supervisor.store import Store  # noqa: E402

KEY = "bench-key"
SSE_CLIENT = """
import sys, time, urllib.request
url, count = sys.argv[1], int(sys.argv[2])
req = urllib.request.Request(url, headers={"X-Api-Key": "%s"})
seen, first = 0, None
with urllib.request.urlopen(req, timeout=120) as resp:
    print("connected", flush=True)
    for line in resp:
        if line.startswith(b"id: "):
            seen += 1
            first = first or time.time()
            if seen == count:
                break
print(f"done {first} {time.time()} {seen}", flush=True)
""" % KEY
RECEIVER = """
import sys, time, json
from aiohttp import web
async def hook(request):
    body = json.loads(await request.read())
    print(f"{body['id']} {body['session']} {body['timestamp']} {time.time()}", flush=True)
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/hook", hook)
print("listening", flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A webhook receiver process; ``lines`` fills as it accepts events."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "listening"
        self.lines: list[tuple[int, str, float, float]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event_id, session, sent_at, got_at = line.split()
            self.lines.append((int(event_id), session, float(sent_at), float(got_at)))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish")
        await asyncio.sleep(0.005)


async def serve(tmp: Path, webhooks: dict[str, Any], **events: Any) -> tuple[Hub, web.AppRunner, str]:
    cfg = config.load(None, env={}).replace("state", dir=str(tmp))
    cfg = cfg.replace("events", **events).replace("webhooks", **webhooks)
    store = Store(tmp / "zapvisor.db")
    hub = Hub(cfg, store)
    registry = Registry(cfg, store, hub.bus, asyncio.TaskGroup())  # never entered: no sessions
    hub.attach(registry)
    app = api.build_app(registry, KEY, 1 << 20)
    app[HUB] = hub
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return hub, runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def publish(hub: Hub, count: int, sessions: int, every: int = 50) -> float:
    """Publish ``count`` events over ``sessions`` sessions; returns the wall time of the first."""
    started = time.time()
    for n in range(count):
        hub.bus.publish("bench", f"s{n % sessions}", {"n": n, "text": "x" * 200})
        if n % every == 0:
            await asyncio.sleep(0)  # as a real daemon does between events: streams write
    return started


async def bench_bus(events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hub, runner, _ = await serve(Path(tmp), {})
        started = time.perf_counter()
        for n in range(events):
            hub.bus.publish("bench", "s0", {"n": n, "text": "x" * 200})
        elapsed = time.perf_counter() - started
        print(f"bus publish, journaled in SQLite, no listeners: {events / elapsed:,.0f} events/s")
        hub.close()
        await runner.cleanup()


async def bench_sse(events: int, clients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hub, runner, url = await serve(Path(tmp), {}, subscriber_queue=events)
        procs = [subprocess.Popen([sys.executable, "-c", SSE_CLIENT, f"{url}/api/events",
                                   str(events)], stdout=subprocess.PIPE, text=True)
                 for _ in range(clients)]
        for proc in procs:  # read in a thread: the streams need this loop to be answered
            assert proc.stdout is not None
            assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "connected"
        await wait_until(lambda: hub.bus.subscribers == clients, 10)
        started = await publish(hub, events, 1)
        results = []
        for proc in procs:
            while proc.poll() is None:
                await asyncio.sleep(0.01)  # keep serving the streams
            assert proc.stdout is not None
            _, _, last, seen = proc.stdout.read().split()
            results.append((float(last) - started, int(seen)))
        worst = max(r[0] for r in results)
        print(f"bus -> SSE, {clients} client(s): {events / worst:,.0f} events/s per client "
              f"({events} events in {worst:.2f}s; dropped {hub.bus.dropped})")
        hub.close()
        await runner.cleanup()


async def bench_webhooks(events: int, sessions: int) -> None:
    port = free_port()
    rx = Receiver(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hub, runner, _ = await serve(Path(tmp), {"url": f"http://127.0.0.1:{port}/hook"})
            runner_task = asyncio.ensure_future(hub.run())
            started = await publish(hub, events, sessions)
            await wait_until(lambda: len(rx.lines) >= events, 300)
            elapsed = max(line[3] for line in rx.lines) - started
            print(f"bus -> webhook receiver, {sessions} session lane(s): {events / elapsed:,.0f} "
                  f"events/s ({events} in {elapsed:.2f}s, one request each)")
            hub.close()
            await runner_task
            await runner.cleanup()
    finally:
        rx.stop()


async def bench_outage(down_s: float, rate: int) -> None:
    """Events at ``rate``/s for down_s + 2 s; the receiver is down (connection refused) for the
    first ``down_s`` seconds, then up. Latency = accepted at the receiver - published."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        hub, runner, _ = await serve(Path(tmp), {"url": f"http://127.0.0.1:{port}/hook",
                                                 "retry_initial_s": 0.1, "retry_max_s": 1.0})
        runner_task = asyncio.ensure_future(hub.run())
        started, rx, sent = time.monotonic(), None, 0
        while time.monotonic() - started < down_s + 2:
            if rx is None and time.monotonic() - started >= down_s:
                rx, up_at = Receiver(port), time.time()
            hub.bus.publish("bench", f"s{sent % 4}", {"n": sent})
            sent += 1
            await asyncio.sleep(1 / rate)
        assert rx is not None
        await wait_until(lambda: len(rx.lines) >= sent, 60)
        during = [got - pub for _, _, pub, got in rx.lines if pub < up_at]
        after = [got - pub for _, _, pub, got in rx.lines if pub >= up_at]
        ids = [line[0] for line in rx.lines]
        print(f"outbox, receiver down {down_s:g}s then up, {sent} events at {rate}/s over 4 "
              f"sessions: all delivered, {len(ids) - len(set(ids))} duplicates")
        for name, values in (("published while down", during), ("published once up", after)):
            values.sort()
            print(f"  {name}: n={len(values)} p50={statistics.median(values) * 1000:,.0f} ms "
                  f"p95={values[int(len(values) * 0.95)] * 1000:,.0f} ms "
                  f"max={values[-1] * 1000:,.0f} ms")
        print(f"  time from receiver up to backlog drained: "
              f"{max(line[3] for line in rx.lines if line[2] < up_at) - up_at:.2f}s")
        hub.close()
        await runner_task
        await runner.cleanup()
        rx.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--down-s", type=float, default=3.0)
    args = parser.parse_args()
    configure("error", "console")  # a log line per delivery would be the benchmark
    await bench_bus(args.events)
    for clients in (1, 4):
        await bench_sse(args.events, clients)
    for sessions in (1, 8):
        await bench_webhooks(args.events // 5 if sessions == 1 else args.events, sessions)
    await bench_outage(args.down_s, rate=100)


if __name__ == "__main__":
    asyncio.run(main())
