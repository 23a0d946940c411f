"""Benchmark: sending and downloading a 16 MB file through one session, on the real daemon, its
worker and Chrome, against both WhatsApp Web builds the simulator models (pacing and limits off).

A send is a multipart upload streamed into the session's scratch folder, queued, handed to the
worker by path, pushed into the page in 1 MiB chunks over CDP, prepared and uploaded by the page
to the simulator's media server; a download is the page fetching the file and the worker pulling
it out in 1 MiB chunks to a scratch file the daemon streams back. Encryption is not modelled, so
this measures zapvisor's path, not WhatsApp's servers. Each result's bytes are checked. Run:

    .venv/bin/python tests/bench/bench_media.py [--mb 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import base64
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.media import download, sample  # noqa: E402
from tests.support.procs import kill_marked  # noqa: E402
from tests.support.wa import (  # noqa: E402
    CHAT,
    PHONE_A,
    fast_simulator,
    login,
    wa_daemon,
    wait_event,
)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _build(build: str, size: int, runs: int, tmp: Path) -> dict[str, list[float]]:
    """Seconds per send and per download of a ``size``-byte video on ``build``."""
    times: dict[str, list[float]] = {"send": [], "download": []}
    seen: set[str] = set()  # incoming videos already downloaded
    (tmp / build).mkdir()
    with fast_simulator(ref_ttl_s=60.0, build=build) as sim:
        d = wa_daemon(tmp / build, _port(), sim, media={"max_video_bytes": max(size, 16 << 20)})
        d.start()
        try:
            d.client.post("/api/sessions", {"id": "a"})
            login(d, sim, "a", PHONE_A)
            for run in range(runs):
                data = sample("video", size)
                path = tmp / f"clip-{build}-{run}.mp4"
                path.write_bytes(data)
                started = time.perf_counter()
                sent = d.client.post_file("/api/sessions/a/media", {"to": CHAT}, path)
                times["send"].append(time.perf_counter() - started)
                record = next(m for m in sim.sent(phone=PHONE_A) if m["id"] == sent["id"])
                assert sim.media(record["direct_path"]) == data, "the bytes sent differ"
                sim.incoming(CHAT, None, phone=PHONE_A, type="video", data=base64.b64encode(data).decode())
                event = wait_event(d, lambda e: e["event"] == "message" and e["payload"].get("type") == "video"
                                   and e["payload"]["id"] not in seen, session="a")[-1]
                seen.add(event["payload"]["id"])
                started = time.perf_counter()
                status, _, body = download(d, f"/api/sessions/a/messages/{event['payload']['id']}/media")
                times["download"].append(time.perf_counter() - started)
                assert status == 200 and body == data, "the bytes downloaded differ"
        finally:
            d.stop()
            kill_marked(d.state_dir)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=16, help="file size in MB (10**6 bytes)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.mb * 1000 * 1000
    with tempfile.TemporaryDirectory() as tmp:
        for build in ("2024", "2026"):
            times = _build(build, size, args.runs, Path(tmp))
            for what, values in times.items():
                median = statistics.median(values)
                print(f"build {build} {what:>8} {args.mb} MB: median {median:.2f} s = {args.mb / median:.1f} MB/s "
                      f"(runs: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
