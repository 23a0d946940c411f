"""Keeping sessions healthy for months: memory and age recycling, admission under pressure."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import API_KEY, Daemon
from tests.support.pages import PageServer
from tests.support.procs import kill_marked, wait_until


@pytest.fixture
def daemons(workdir: Path, free_port: int, pages: PageServer) -> Iterator[list[Daemon]]:
    made: list[Daemon] = []
    yield made
    for d in made:
        d.stop()
    kill_marked(workdir / "state")


def _recycled(d: Daemon, session_id: str) -> list[dict[str, object]]:
    return [e for e in d.events("session.recycled") if e.get("session_id") == session_id]


@pytest.mark.chrome
def test_memory_over_the_limit_recycles_chrome_on_the_same_profile(
        daemons: list[Daemon], workdir: Path, free_port: int, pages: PageServer) -> None:
    d = Daemon(workdir, free_port, pages.url("/"),
               limits={"memory_max_mb": 40, "memory_samples": 2, "sample_interval_s": 0.3})
    daemons.append(d.start())
    d.client.post("/api/sessions", {"id": "fat"})
    first = d.wait_state("fat", "WORKING")
    keep = Path(str(first["profile_dir"])) / "zapvisor-keep"
    keep.write_text("login")
    wait_until(lambda: _recycled(d, "fat"), timeout=30, message="a memory recycle")
    assert "memory" in str(_recycled(d, "fat")[0]["reason"])
    wait_until(lambda: d.session("fat")["chrome_pid"] not in (None, first["chrome_pid"]),
               timeout=30, message="a new Chrome")
    again = d.wait_state("fat", "WORKING")
    assert again["restarts"] == 0, "a recycle is not a crash"
    assert str(again["last_exit"]).startswith("recycled: memory")
    assert keep.read_text() == "login"


@pytest.mark.chrome
def test_age_recycles_with_jitter(daemons: list[Daemon], workdir: Path, free_port: int,
                                  pages: PageServer) -> None:
    d = Daemon(workdir, free_port, pages.url("/"),
               limits={"recycle_after_h": 1.5 / 3600, "recycle_jitter": 0.2,
                       "check_interval_s": 0.2, "memory_max_mb": 0})
    daemons.append(d.start())
    for session_id in ("a", "b"):
        d.client.post("/api/sessions", {"id": session_id})
    wait_until(lambda: _recycled(d, "a") and _recycled(d, "b"), timeout=30, message="both aged out")
    assert all("age" in str(e["reason"]) for e in _recycled(d, "a") + _recycled(d, "b"))
    for session_id in ("a", "b"):
        assert d.wait_state(session_id, "WORKING")["restarts"] == 0


def _post(d: Daemon, path: str, body: dict[str, object]) -> tuple[int, dict[str, str], dict[str, object]]:
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}{path}", data=json.dumps(body).encode(),
                                 method="POST", headers={"X-Api-Key": API_KEY})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_low_host_memory_refuses_new_starts_with_retry_after(
        daemons: list[Daemon], workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/",
               limits={"min_available_memory_mb": 10**9, "check_interval_s": 5})
    daemons.append(d.start())
    status, headers, body = _post(d, "/api/sessions", {"id": "a"})
    assert status == 429 and headers["Retry-After"] == "5"
    assert body["error"]["type"] == "Overloaded"  # type: ignore[index]
    assert "available memory" in body["error"]["message"]  # type: ignore[index]
    # Nothing was created by the refused request; a stopped session may still be created.
    assert _post(d, "/api/sessions", {"id": "a", "start": False})[0] == 201
    assert _post(d, "/api/sessions/a/start", {})[0] == 429
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://127.0.0.1:{d.port}/health/ready", timeout=10)
    assert info.value.code == 503
    assert "available memory" in json.loads(info.value.read())["reason"]


def test_ready_when_the_host_has_room(daemons: list[Daemon], workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    daemons.append(d.start())
    with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/health/ready", timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["ready"] is True and body["free_disk_mb"] > 0
