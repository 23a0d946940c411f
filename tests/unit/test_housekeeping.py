"""Disk sweep at boot: what Chrome abandons when killed is removed; running sessions and
profiles are left alone."""

from __future__ import annotations

from pathlib import Path

from supervisor.layout import StateLayout
from supervisor.sessions.housekeeping import sweep_disk


def test_sweep_removes_scratch_and_crash_dumps_only(tmp_path: Path) -> None:
    for session_id in ("idle", "busy"):
        base = tmp_path / "sessions" / session_id
        (base / "tmp" / ".org.chromium.Chromium.abc").mkdir(parents=True)
        (base / "tmp" / "scratch.bin").write_bytes(b"x" * 100)
        (base / "profile" / "Crash Reports" / "pending").mkdir(parents=True)
        (base / "profile" / "Default").mkdir()
        (base / "profile" / "Default" / "Cookies").write_text("login")
    removed = sweep_disk(StateLayout(tmp_path), running={"busy"})
    idle = tmp_path / "sessions" / "idle"
    assert removed == 3
    assert list((idle / "tmp").iterdir()) == []
    assert not (idle / "profile" / "Crash Reports").exists()
    assert (idle / "profile" / "Default" / "Cookies").read_text() == "login"
    busy = tmp_path / "sessions" / "busy"
    assert (busy / "tmp" / "scratch.bin").exists() and (busy / "profile" / "Crash Reports").exists()


def test_sweep_of_an_empty_state_dir(tmp_path: Path) -> None:
    assert sweep_disk(StateLayout(tmp_path), running=set()) == 0
