"""Benchmark: what a profile snapshot of a logged-in session weighs and costs, and which profile
folders hold the login.

A real daemon, worker and Chrome log a session in on the WhatsApp Web simulator, then stop it in
order. Printed: the full profile's size (by folder), the snapshot's size before and after gzip,
save and restore seconds through the shared-directory store and through S3 (moto's server, a
real S3 HTTP API on loopback), then the session started from the restored profile (seconds to
WORKING, and whether a QR code was needed). ``--pad-mb`` adds random bytes to the profile's
IndexedDB (a large account's message store is mostly encrypted, so hardly compressible) to show
how the costs grow; ``--folders`` first measures which folders hold the login: each candidate
subset of the profile alone, then a start: WORKING, or a QR code?

    .venv/bin/python tests/bench/bench_snapshots.py [--folders] [--pad-mb 0,50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from supervisor.cluster.snapshots import Snapshots, SnapshotStore, open_store  # noqa: E402
from supervisor.logs import configure  # noqa: E402
from supervisor.settings import SnapshotsConfig  # noqa: E402
from tests.support.daemon import Daemon  # noqa: E402
from tests.support.procs import kill_marked, wait_until  # noqa: E402
from tests.support.s3 import MotoServer  # noqa: E402
from tests.support.wa import PHONE_A, fast_simulator, login, wa_daemon  # noqa: E402
from tests.wasim import RunningSimulator  # noqa: E402

SESSION = "bench"
#: Candidate subsets of a profile (relative paths); None: the whole profile.
CANDIDATES: dict[str, list[str] | None] = {
    "whole profile": None,
    "nothing": [],
    "Local Storage": ["Default/Local Storage"],
    "IndexedDB": ["Default/IndexedDB"],
    "IndexedDB + Local Storage": ["Default/IndexedDB", "Default/Local Storage"],
    "IndexedDB + Local Storage + Cookies": ["Default/IndexedDB", "Default/Local Storage",
                                            "Default/Cookies"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_bytes(path: Path) -> tuple[int, int]:
    """(bytes, files) of the regular files under ``path``."""
    total = files = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            full = Path(dirpath, name)
            if full.is_file() and not full.is_symlink():
                total, files = total + full.stat().st_size, files + 1
    return total, files


def mb(n: float) -> str:
    return f"{n / 1e3:.1f} kB" if n < 1e5 else f"{n / 1e6:.2f} MB" if n < 1e7 else f"{n / 1e6:.1f} MB"


def start_until_settled(d: Daemon) -> tuple[str, float]:
    """Start the session; (the state it settles in: WORKING or SCAN_QR_CODE, seconds)."""
    seen: dict[str, Any] = {}
    started = time.monotonic()
    d.client.post(f"/api/sessions/{SESSION}/start", {})

    def settled() -> bool:
        seen.update(d.session(SESSION))
        return seen["state"] in ("WORKING", "SCAN_QR_CODE", "FAILED")

    wait_until(settled, timeout=90, message="the session to settle")
    return str(seen["state"]), time.monotonic() - started


def stop(d: Daemon) -> None:
    d.client.post(f"/api/sessions/{SESSION}/stop", {})
    d.wait_state(SESSION, "STOPPED")


def copy_subset(master: Path, profile: Path, subset: list[str] | None) -> None:
    shutil.rmtree(profile, ignore_errors=True)
    if subset is None:
        shutil.copytree(master, profile, symlinks=True)
        return
    profile.mkdir(mode=0o700)
    for rel in subset:
        src, dst = master / rel, profile / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        elif src.exists():
            shutil.copy2(src, dst)


def measure_folders(d: Daemon, master: Path, profile: Path) -> None:
    print("\nwhich folders hold the login (subset alone, then start):")
    for name, subset in CANDIDATES.items():
        copy_subset(master, profile, subset)
        size = tree_bytes(profile)[0]
        state, seconds = start_until_settled(d)
        print(f"  {name:38s} {mb(size):>11s}  -> {state:12s} ({seconds:.2f} s)")
        stop(d)


def pad(profile: Path, megabytes: int) -> None:
    """Random bytes into the profile's IndexedDB, as LevelDB table files of 2 MB."""
    if megabytes <= 0:
        return
    folder = next((profile / "Default" / "IndexedDB").glob("*.indexeddb.leveldb"))
    for n in range(megabytes // 2):
        (folder / f"{900000 + n:06d}.ldb").write_bytes(os.urandom(2 * 1024 * 1024))


async def time_store(label: str, store: SnapshotStore, master: Path, scratch: Path,
                     pad_mb: int, rounds: int) -> None:
    snaps = Snapshots(store)
    profile = scratch / SESSION / "profile"
    copy_subset(master, profile, None)
    pad(profile, pad_mb)
    full = tree_bytes(profile)[0]
    saves, restores, info = [], [], None
    for token in range(1, rounds + 1):
        info = await snaps.save(SESSION, token, profile)
        saves.append(info.seconds or 0.0)
    target = scratch / "restored" / SESSION / "profile"
    for _ in range(rounds):
        shutil.rmtree(target.parent, ignore_errors=True)
        restored = await snaps.restore(SESSION, target)
        assert restored is not None
        restores.append(restored.seconds or 0.0)
    assert info is not None and info.raw_bytes is not None
    print(f"  {label:5s} pad {pad_mb:4d} MB: profile {mb(full):>10s}, snapshot {mb(info.raw_bytes):>10s}"
          f" raw / {mb(info.size_bytes):>10s} gzip ({info.files} files); save "
          f"{statistics.median(saves):.3f} s, restore {statistics.median(restores):.3f} s "
          f"(median of {rounds})")
    await snaps.delete(SESSION)


def end_to_end(d: Daemon, sim: RunningSimulator, store: SnapshotStore, profile: Path,
               linked: str, token: int) -> None:
    """Save the stopped session's profile, delete it, restore it, start: WORKING without QR?
    (Each hop starts from the profile the hop before restored.)"""
    snaps = Snapshots(store)
    info = asyncio.run(snaps.save(SESSION, token, profile))
    shutil.rmtree(profile)
    restored = asyncio.run(snaps.restore(SESSION, profile))
    assert restored is not None
    state, seconds = start_until_settled(d)
    same = [c["client_id"] for c in sim.clients()] == [linked]  # the page linked at login
    print(f"  {store.location}: saved in {info.seconds:.3f} s, profile deleted, restored in "
          f"{restored.seconds:.3f} s, started -> {state} in {seconds:.2f} s "
          f"({'the same linked device, no QR' if same and state == 'WORKING' else 'NEW LOGIN'})")
    stop(d)
    asyncio.run(snaps.delete(SESSION))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folders", action="store_true", help="measure which folders hold the login")
    parser.add_argument("--pad-mb", default="0,50", help="random MB added to IndexedDB, comma list")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--build", default="2024", choices=("2024", "2026"))
    args = parser.parse_args()
    configure("warning", "console")
    work = Path(tempfile.mkdtemp(prefix="zapbench-snap-")).resolve()
    with fast_simulator(ref_ttl_s=20.0, build=args.build) as sim:
        d = wa_daemon(work, free_port(), sim, logging={"level": "warning"})
        d.start()
        try:
            d.client.post("/api/sessions", {"id": SESSION})
            login(d, sim, SESSION, PHONE_A)
            linked = sim.clients()[0]["client_id"]
            stop(d)
            profile = d.state_dir / "sessions" / SESSION / "profile"
            master = work / "master"
            shutil.copytree(profile, master, symlinks=True)
            full, files = tree_bytes(master)
            print(f"logged-in profile (simulator build {args.build}, chromium-headless-shell): "
                  f"{mb(full)} in {files} files")
            for entry in sorted((master / "Default").iterdir(), key=lambda p: -tree_bytes(p)[0])[:10]:
                print(f"  Default/{entry.name:28s} {mb(tree_bytes(entry)[0]):>11s}")
            if args.folders:
                measure_folders(d, master, profile)
            print("\nsave and restore (only the login folders; median of rounds):")
            with MotoServer(work) as s3:
                stores = {"file": SnapshotsConfig(url=f"file://{work / 'shared'}"),
                          "s3": s3.config()}
                (work / "shared").mkdir(mode=0o700)
                for pad_mb in [int(x) for x in args.pad_mb.split(",")]:
                    for label, cfg in stores.items():
                        asyncio.run(time_store(label, open_store(cfg), master, work / "scratch",
                                               pad_mb, args.rounds))
                print("\nend to end, hop after hop (a real session on the simulator):")
                copy_subset(master, profile, None)
                for hop, cfg in enumerate(stores.values()):
                    end_to_end(d, sim, open_store(cfg), profile, linked, 1000 + hop)
        finally:
            d.stop()
            kill_marked(d.state_dir)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
