"""Profile snapshots (issue 17) through real stores: a shared directory and a real S3 HTTP API
(moto's server in its own process), a real Chrome holding a profile, and a session logged in on
the WhatsApp Web simulator that comes back WORKING from a snapshot without a new QR code.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from supervisor.cluster.profilelock import profile_user
from supervisor.cluster.snapshots import Snapshots, open_store
from supervisor.cluster.snapstore import object_key
from supervisor.errors import BadSnapshot, Conflict, ProfileInUse, SnapshotStoreError
from supervisor.settings import SnapshotsConfig
from tests.support.procs import wait_until
from tests.support.s3 import SECRET_KEY, MotoServer
from tests.support.snapshots import LOGIN_FILES, hostile_archive, listing, make_profile
from tests.support.wa import (
    PHONE_A,
    fast_simulator,
    login,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

CHROME = "/usr/lib/chromium/chromium-headless-shell"
LOGIN_DIRS = {"Default", "Default/IndexedDB", "Default/Local Storage"}


@pytest.fixture(params=["file", "s3"])
def store_cfg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SnapshotsConfig]:
    """``[snapshots]`` on a shared directory, or on a bucket of a real S3 server."""
    if request.param == "file":
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o700)
        yield SnapshotsConfig(url=f"file://{shared}")
    else:
        with MotoServer(tmp_path) as s3:
            yield s3.config(prefix="zv/snaps")


def stored(cfg: SnapshotsConfig, session_id: str) -> list[str]:
    """The session's object names as the store itself lists them."""
    found = asyncio.run(open_store(cfg).objects(session_id))
    return sorted(obj.key for obj in found)


def test_round_trip_carries_only_the_login_folders_private(store_cfg: SnapshotsConfig,
                                                           tmp_path: Path) -> None:
    snaps = Snapshots(open_store(store_cfg))
    profile = tmp_path / "node1" / "sessions" / "a" / "profile"
    make_profile(profile)
    info = asyncio.run(snaps.save("a", 3, profile))
    assert (info.key, info.token, info.files) == (object_key("a", 3), 3, len(LOGIN_FILES))
    assert info.raw_bytes == sum(len(c) for c in LOGIN_FILES.values()) and info.size_bytes > 0
    assert stored(store_cfg, "a") == [object_key("a", 3)]
    assert sorted(p.name for p in profile.parent.iterdir()) == ["profile"]  # no scratch left

    target = tmp_path / "node2" / "sessions" / "a" / "profile"  # another host: nothing there yet
    restored = asyncio.run(snaps.restore("a", target))
    assert restored is not None and (restored.key, restored.files) == (info.key, len(LOGIN_FILES))
    got = listing(target)
    assert {rel: entry[2] for rel, entry in got.items() if entry[0] == "file"} == LOGIN_FILES
    assert {entry[0] for entry in got.values()} == {"file", "dir"}  # no link came along
    assert all(mode == (0o600 if kind == "file" else 0o700) for kind, mode, _ in got.values())
    assert {rel for rel, entry in got.items() if entry[0] == "dir" and rel.count("/") <= 1} == LOGIN_DIRS
    assert (target.stat().st_mode & 0o777) == 0o700
    assert sorted(p.name for p in target.parent.iterdir()) == ["profile"]


def test_the_newest_token_wins_two_are_kept_and_a_stale_token_is_refused(
        store_cfg: SnapshotsConfig, tmp_path: Path) -> None:
    snaps = Snapshots(open_store(store_cfg))
    profile = tmp_path / "sessions" / "a" / "profile"
    for token in (1, 2, 5, 9):
        shutil.rmtree(profile, ignore_errors=True)
        make_profile(profile, salt=f"token {token}".encode())
        asyncio.run(snaps.save("a", token, profile))
    assert stored(store_cfg, "a") == [object_key("a", 5), object_key("a", 9)]
    latest = asyncio.run(snaps.latest("a"))
    assert latest is not None and latest.token == 9

    with pytest.raises(Conflict, match="token 7 is stale"):
        asyncio.run(snaps.save("a", 7, profile))
    assert stored(store_cfg, "a") == [object_key("a", 5), object_key("a", 9)]

    shutil.rmtree(profile)
    restored = asyncio.run(snaps.restore("a", profile))
    assert restored is not None and restored.token == 9
    assert (profile / next(iter(LOGIN_FILES))).read_bytes().endswith(b"token 9")

    asyncio.run(snaps.save("b", 1, profile))
    assert asyncio.run(snaps.delete("a")) == 2
    assert stored(store_cfg, "a") == [] and asyncio.run(snaps.restore("a", profile)) is None
    assert stored(store_cfg, "b") == [object_key("b", 1)]


def test_the_s3_prefix_holds_the_objects_and_the_secret_is_never_shown(moto: MotoServer,
                                                                       tmp_path: Path) -> None:
    cfg = moto.config(prefix="cluster1/zv")
    assert SECRET_KEY not in repr(cfg)
    store = open_store(cfg)
    assert SECRET_KEY not in store.location and moto.url in store.location
    profile = tmp_path / "sessions" / "a" / "profile"
    make_profile(profile)
    asyncio.run(Snapshots(store).save("a", 12, profile))
    assert moto.keys() == [f"cluster1/zv/{object_key('a', 12)}"]
    missing = Snapshots(open_store(moto.config(url="s3://no-such-bucket/zv")))
    with pytest.raises(SnapshotStoreError, match="no-such-bucket") as failed:
        asyncio.run(missing.save("a", 13, profile))
    assert SECRET_KEY not in failed.value.message and failed.value.status == 503


@pytest.fixture
def foreign_chrome(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[bytes]]]:
    """Start a chromium-headless-shell of ours on a profile, as an operator might by hand."""
    started: list[subprocess.Popen[bytes]] = []

    def start(profile: Path) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([CHROME, "--no-sandbox", f"--user-data-dir={profile}",
                                 "--remote-debugging-port=0", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


@pytest.mark.chrome
def test_a_profile_a_chrome_holds_is_never_saved_nor_replaced(
        tmp_path: Path, foreign_chrome: Callable[[Path], subprocess.Popen[bytes]]) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    snaps = Snapshots(open_store(SnapshotsConfig(url=f"file://{shared}")))
    other = tmp_path / "elsewhere" / "profile"
    make_profile(other)
    asyncio.run(snaps.save("a", 1, other))

    profile = tmp_path / "sessions" / "a" / "profile"
    profile.mkdir(parents=True, mode=0o700)
    chrome = foreign_chrome(profile)
    wait_until(lambda: profile_user(profile) is not None, timeout=30, message="Chrome holds the profile")
    inode = profile.stat().st_ino
    with pytest.raises(ProfileInUse, match=f"pid {chrome.pid}"):
        asyncio.run(snaps.save("a", 2, profile))
    with pytest.raises(ProfileInUse, match="stop the session first"):
        asyncio.run(snaps.restore("a", profile))
    assert chrome.poll() is None, "a Chrome is never killed for a snapshot"
    # Chrome's own files come and go; the folder is the same one, and nothing was restored in.
    assert profile.stat().st_ino == inode
    assert not [rel for rel in listing(profile) if "web.whatsapp.com" in rel]
    assert [p.name for p in shared.glob("a/*")] == [object_key("a", 1).split("/")[1]]
    assert sorted(p.name for p in profile.parent.iterdir()) == ["profile"]

    chrome.kill()
    chrome.wait()
    wait_until(lambda: profile_user(profile) is None, timeout=10, message="the lock to go with Chrome")
    make_profile(profile)  # about:blank left no login; give the closed profile one
    assert asyncio.run(snaps.save("a", 2, profile)).token == 2


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o600
    return info


HOSTILE = {
    "dot-dot": [_member("../../escaped")],
    "dot-dot inside": [_member("Default/IndexedDB/x/../../../../escaped")],
    "absolute": [_member("/tmp/zv-escaped-absolute")],
    "symlink out": [_member("Default/IndexedDB/link", tarfile.SYMTYPE, "/etc"),
                    _member("Default/IndexedDB/link/escaped")],
    "hard link": [_member("Default/IndexedDB/hard", tarfile.LNKTYPE, "/etc/passwd")],
    "device": [_member("Default/IndexedDB/dev", tarfile.CHRTYPE)],
    "fifo": [_member("Default/IndexedDB/fifo", tarfile.FIFOTYPE)],
    "twice": [_member("Default/IndexedDB/a"), _member("Default/IndexedDB/a")],
    "inside a file": [_member("Default/IndexedDB/f"), _member("Default/IndexedDB/f/g")],
}


@pytest.mark.parametrize("case", [*HOSTILE, "not gzip", "truncated"])
def test_a_hostile_or_broken_archive_is_refused_and_changes_nothing(case: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    store = open_store(SnapshotsConfig(url=f"file://{shared}"))
    snaps = Snapshots(store)
    session_dir = tmp_path / "state" / "sessions" / "a"
    profile = session_dir / "profile"
    make_profile(profile)
    asyncio.run(snaps.save("a", 1, profile))

    bad = tmp_path / "bad.tar.gz"
    if case in HOSTILE:
        hostile_archive(bad, HOSTILE[case])
    elif case == "not gzip":
        bad.write_bytes(b"PK\x03\x04 a zip, not a tar.gz" * 10)
    else:
        hostile_archive(bad, [_member(f"Default/IndexedDB/big{n}") for n in range(50)])
        bad.write_bytes(bad.read_bytes()[:200])
    asyncio.run(store.put(object_key("a", 2), bad))  # the newest: restore tries it first

    # Refused, and the older sound one restored in its place: a bad upload costs no login.
    restored = asyncio.run(snaps.restore("a", profile))
    assert restored is not None and restored.token == 1
    assert {rel: e[2] for rel, e in listing(profile).items() if e[0] == "file"} == LOGIN_FILES
    after = listing(tmp_path / "state")
    # With no sound one left, the refusal stands and nothing is written.
    asyncio.run(store.delete([object_key("a", 1)]))
    with pytest.raises(BadSnapshot):
        asyncio.run(snaps.restore("a", profile))
    assert listing(tmp_path / "state") == after
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/zv-escaped-absolute").exists()
    assert not list(tmp_path.rglob("escaped"))


def test_members_outside_the_login_folders_are_left_out(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    store = open_store(SnapshotsConfig(url=f"file://{shared}"))
    archive = hostile_archive(tmp_path / "more.tar.gz", [
        _member("Default/Extensions/evil/manifest.json"), _member("Default/Preferences"),
        _member("Local State"), _member("Default/IndexedDB/https_x_0.indexeddb.leveldb/CURRENT")])
    asyncio.run(store.put(object_key("a", 1), archive))
    profile = tmp_path / "sessions" / "a" / "profile"
    restored = asyncio.run(Snapshots(store).restore("a", profile))
    assert restored is not None and restored.files == 2
    assert sorted(rel for rel, e in listing(profile).items() if e[0] == "file") == [
        "Default/IndexedDB/https_x_0.indexeddb.leveldb/CURRENT", "Default/Local Storage/leveldb/CURRENT"]


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with fast_simulator(ref_ttl_s=30.0) as running:  # one QR code for the whole login
        yield running


@pytest.mark.chrome
def test_a_logged_in_session_comes_back_working_from_its_snapshot_without_a_qr(
        store_cfg: SnapshotsConfig, workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim)
    snaps = Snapshots(open_store(store_cfg))
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        linked = [c["client_id"] for c in sim.clients()]
        d.client.post("/api/sessions/a/stop", {})
        d.wait_state("a", "STOPPED")
        profile = d.state_dir / "sessions" / "a" / "profile"
        saved = asyncio.run(snaps.save("a", 1, profile))

        shutil.rmtree(profile)  # the host is gone; the next one starts from the snapshot
        restored = asyncio.run(snaps.restore("a", profile))
        assert restored is not None and restored.key == saved.key
        assert {p.name for p in (profile / "Default").iterdir()} == {"IndexedDB", "Local Storage"}

        started_at = time.time()
        d.client.post("/api/sessions/a/start", {})
        assert d.wait_state("a", "WORKING")["phone_number"] == PHONE_A
        since = [e for e in wait_event(d, lambda e: e["timestamp"] >= started_at
                                       and e["payload"].get("state") == "WORKING",
                                       "session.status,session.qr") if e["timestamp"] >= started_at]
        assert not [e for e in since if e["event"] == "session.qr"]
        assert "SCAN_QR_CODE" not in [e["payload"].get("state") for e in since]
        assert [c["client_id"] for c in sim.clients()] == linked  # the same linked device
        sent = d.client.post("/api/sessions/a/messages", {"to": "5511999999999", "text": "moved"})
        assert [m["id"] for m in sim.sent(phone=PHONE_A) if m["body"] == "moved"] == [sent["id"]]
