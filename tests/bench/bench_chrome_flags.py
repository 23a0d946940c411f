"""Benchmark: processes and PSS per Chrome, flag by flag ([chrome] lean and other candidates).

For each configuration, K Chromes (default 6) are launched at once the way a worker launches
them (worker.browser.chrome: the real binary, the product's own build_args, CDP over
--remote-debugging-pipe), each opens the page and the page is checked to work:

- ``static``: a small static page (tests/support/pages.py), its title read back;
- ``wa2024``/``wa2026``: the WhatsApp simulator's page (tests/wasim, both builds): each page's
  QR code is scanned with a phone of its own and the page must reach CONNECTED and synced, as
  its own modules report (``window.require('WAWebSocketModel').Socket``).

Then memory is polled until it is stable (every instance's tree summed, 4 samples 0.5 s apart
within 1%) and each instance's tree is read: processes found by walking
/proc/PID/task/*/children from the browser process, memory from /proc/PID/smaps_rollup.
Printed per configuration, per instance: processes; PSS (MB); "own" PSS (MB), i.e. Pss_Anon +
Pss_Shmem, which leaves out the share of Chrome's binary and libraries: that share depends on
how many other processes on the host map the same files (other Chromes, even in other
containers), so PSS moves with the host while "own" does not; ratios against Chrome's own
process model (``[chrome] lean = []``, the defaults before issue 13); the median seconds from
spawn to a working page. Run from a checkout:

    .venv/bin/python tests/bench/bench_chrome_flags.py [-k 6] [--pages static,wa2024,wa2026]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import structlog

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.pages import TITLE, PageServer  # noqa: E402
from tests.support.wa import fast_simulator  # noqa: E402
from tests.wasim import RunningSimulator, SimError  # noqa: E402
from worker.browser import cdp  # noqa: E402
from worker.browser.chrome import Chrome, LaunchOptions  # noqa: E402
from worker.browser.executable import find_executable  # noqa: E402
from worker.protocol import CHROME_LEAN_DEFAULT, ChromeLean  # noqa: E402

_READY_JS = """() => { try { const S = window.require('WAWebSocketModel').Socket;
  return S.state === 'CONNECTED' && S.hasSynced === true; } catch (e) { return false; } }"""
_CLIENT_ID_JS = "() => localStorage.getItem('wasim.client_id')"
_PHONES = itertools.count(24492970000)
T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    """One configuration: lean names, a heap cap and extra flags on top of build_args."""

    label: str
    lean: tuple[str, ...] = ()
    heap_mb: int = 0
    extra: tuple[str, ...] = ()


def configurations() -> list[Config]:
    """Chrome's own, each candidate alone, then the lean names added one by one and more."""
    names = [lean.value for lean in ChromeLean]
    alone = [Config(name, (name,)) for name in names[1:]]  # the first is the first cumulative step
    others = [
        Config("heap 512 MB alone", heap_mb=512),
        Config("--renderer-process-limit=1 alone", extra=("--renderer-process-limit=1",)),
        Config("--disable-renderer-backgrounding alone", extra=("--disable-renderer-backgrounding",)),
    ]
    cumulative = [Config("+" + names[i], tuple(names[:i + 1])) for i in range(len(names))]
    default = tuple(CHROME_LEAN_DEFAULT)
    more = [
        Config("default + heap 512 MB", default, heap_mb=512),
        Config("default + --renderer-process-limit=1", default, extra=("--renderer-process-limit=1",)),
    ]
    again = Config("chrome's own, again (drift check)")
    return [Config("chrome's own (lean = [])"), *cumulative, *alone, *others, *more, again]


# --- the process tree, without scanning the host ------------------------------------------

def tree_pids(root: int) -> list[int]:
    """``root`` and its descendants, from /proc/PID/task/*/children (no host-wide scan)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as file:
                    todo.extend(int(child) for child in file.read().split())
            except OSError:
                continue
    return pids


@dataclass(frozen=True)
class Memory:
    """Memory of a set of processes (bytes) and how many they are."""

    pss: int = 0  # all of it: includes a share of the Chrome binary's pages
    own: int = 0  # Pss_Anon + Pss_Shmem: what the processes themselves allocated
    processes: int = 0

    def __add__(self, other: Memory) -> Memory:
        return Memory(self.pss + other.pss, self.own + other.own, self.processes + other.processes)


def process_memory(pid: int) -> Memory:
    """One process's PSS figures, from /proc/PID/smaps_rollup (nothing once it is gone)."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as file:
            for line in file:
                name, _, rest = line.partition(":")
                if name in ("Pss", "Pss_Anon", "Pss_Shmem"):
                    fields[name] = int(rest.split()[0]) * 1024
    except OSError:
        return Memory()
    return Memory(fields.get("Pss", 0), fields.get("Pss_Anon", 0) + fields.get("Pss_Shmem", 0), 1)


def tree_memory(root: int) -> Memory:
    """The memory of ``root``'s tree."""
    return sum((process_memory(pid) for pid in tree_pids(root)), Memory())


async def settled(roots: list[int], deadline_s: float = 90.0) -> tuple[Memory, bool]:
    """The trees' memory, summed, once stable (own PSS of 4 samples 0.5 s apart within 1%,
    same process count); and whether it settled before ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    window: list[Memory] = []
    while True:
        total = sum((tree_memory(root) for root in roots), Memory())
        window = [*window[-3:], total]
        if len(window) == 4:
            low, high = min(m.own for m in window), max(m.own for m in window)
            if high - low <= high * 0.01 and len({m.processes for m in window}) == 1:
                return total, True
        if time.monotonic() > deadline:
            return total, False
        await asyncio.sleep(0.5)  # the sampling interval of a poll, not a wait for something


# --- one instance ---------------------------------------------------------------------------

@dataclass
class Instance:
    """One Chrome, attached over its pipe."""

    chrome: Chrome
    browser: cdp.Browser | None = None
    ready_s: float = 0.0
    profile: Path = field(default_factory=Path)


async def poll(what: str, probe: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    """``await probe()`` until truthy; its value. TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:g}s")
        await asyncio.sleep(0.05)


async def open_page(instance: Instance, url: str, sim: RunningSimulator | None) -> None:
    """Attach, open ``url`` and check the page works (for the simulator: logged in, synced)."""
    started = time.monotonic()
    browser = instance.browser = await cdp.connect(instance.chrome.take_devtools_fds(), 30, lambda: None)
    page = await cdp.first_page(browser, lambda error: None)
    await cdp.goto(page, url, "load", 30)
    if sim is None:
        title = await page.evaluate("() => document.title")
        assert title == TITLE, title
    else:
        client_id = await poll("client id", lambda: page.evaluate(_CLIENT_ID_JS))

        async def qr() -> bool:
            try:
                return bool((await asyncio.to_thread(sim.client, client_id))["qr"])
            except SimError as exc:  # 404: the page has not connected to the server yet
                if exc.status != 404:
                    raise
                return False

        await poll("QR code", qr)
        await asyncio.to_thread(sim.scan, client_id=client_id, phone=str(next(_PHONES)))
        await poll("a logged-in, synced page", lambda: page.evaluate(_READY_JS))
    instance.ready_s = time.monotonic() - started


async def run_config(config: Config, k: int, url: str, sim: RunningSimulator | None,
                     executable: Path) -> dict[str, float]:
    """K instances of ``config`` on ``url``: per-instance processes, PSS MB, seconds to ready."""
    base = Path(tempfile.mkdtemp(prefix="zapbench-flags-"))
    instances: list[Instance] = []
    try:
        for i in range(k):
            profile = base / f"p{i}"
            (base / f"t{i}").mkdir(parents=True)
            options = LaunchOptions(executable, str(profile), str(base / f"t{i}"), True, "",
                                    config.extra, config.lean, config.heap_mb)
            instances.append(Instance(Chrome.spawn(options, None), profile=profile))
        await asyncio.gather(*(open_page(instance, url, sim) for instance in instances))
        total, stable = await settled([instance.chrome.pid for instance in instances])
        return {
            "processes": total.processes / k,
            "pss_mb": total.pss / k / 2**20,
            "own_mb": total.own / k / 2**20,
            "ready_s": statistics.median(instance.ready_s for instance in instances),
            "stable": float(stable),
        }
    finally:
        for instance in instances:
            if instance.browser is not None:
                await cdp.request_close(instance.browser, 5.0)
        await asyncio.gather(*(instance.chrome.close(5.0) for instance in instances))
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Page:
    """A page to open: its URL and, for the simulator, its controls."""

    name: str
    url: str
    sim: RunningSimulator | None = None


def pages(stack: ExitStack, names: list[str]) -> Iterator[Page]:
    """The pages named ``names`` (static, wa2024, wa2026), each served while iterated."""
    for name in names:
        if name == "static":
            yield Page(name, stack.enter_context(PageServer()).url("/"))
        else:
            sim = stack.enter_context(fast_simulator(ref_ttl_s=600, build=name.removeprefix("wa")))
            yield Page(name, sim.url, sim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=6, help="Chromes launched at once per configuration")
    parser.add_argument("--pages", default="static,wa2024,wa2026")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    executable = find_executable("")
    print(f"host: {os.cpu_count()} cores; euid {os.geteuid()} (sandbox "
          f"{'off: --no-sandbox' if os.geteuid() == 0 else 'on'}); Chrome: {executable}; K = {args.k}")
    print(f"default lean = {list(CHROME_LEAN_DEFAULT)}")
    with ExitStack() as stack:
        for page in pages(stack, args.pages.split(",")):
            print(f"\n== page {page.name}")
            print(f"{'configuration':<44} {'procs':>5} {'PSS MB':>6} {'own MB':>6} | "
                  f"{'procs x':>7} {'PSS x':>5} {'own x':>5} | {'ready s':>7}")
            baseline: dict[str, float] | None = None
            for config in configurations():
                result = asyncio.run(run_config(config, args.k, page.url, page.sim, executable))
                baseline = baseline or result
                note = "" if result["stable"] else "  (PSS still moving at the deadline)"
                print(f"{config.label:<44} {result['processes']:>5.1f} {result['pss_mb']:>6.1f} "
                      f"{result['own_mb']:>6.1f} | {result['processes'] / baseline['processes']:>7.2f} "
                      f"{result['pss_mb'] / baseline['pss_mb']:>5.2f} "
                      f"{result['own_mb'] / baseline['own_mb']:>5.2f} | {result['ready_s']:>7.2f}{note}",
                      flush=True)


if __name__ == "__main__":
    main()
