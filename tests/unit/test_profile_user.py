"""Who has a profile open is read from the lock its Chrome holds (worker.browser.profile.user)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import wait_until
from worker.browser import profile as profile_mod

_HOLD = """
import fcntl, sys
lock = open(sys.argv[1], "w")
fcntl.lockf(lock, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding the POSIX lock Chrome's LevelDB takes on the profile's Local Storage."""
    lock = tmp_path / "profile" / "Default" / "Local Storage" / "leveldb" / "LOCK"
    lock.parent.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_holder_is_the_profiles_user(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    found = profile_mod.user(tmp_path / "profile")
    assert found is not None and found.pid == holder.pid  # its leader is no Chrome: the holder


def test_a_leader_outside_our_pid_namespace_still_names_the_holder(
        tmp_path: Path, holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Under `docker exec` or a CI runner, getsid() answers 0 for a leader we cannot see.
    monkeypatch.setattr(os, "getsid", lambda pid: 0)
    found = profile_mod.user(tmp_path / "profile")
    assert found is not None and found.pid == holder.pid


def test_no_holder_once_the_lock_is_released(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait()
    wait_until(lambda: profile_mod.user(tmp_path / "profile") is None, timeout=5, message="lock released")
