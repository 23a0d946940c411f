"""The pure parts of profile snapshots (issue 17): the [cluster] and [snapshots] sections, object
names, which files a snapshot carries, the shared-directory store on a real filesystem, the
SingletonLock check, and that boto3 and redis load only when configured."""

from __future__ import annotations

import ast
import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from supervisor import config
from supervisor.cluster import archive
from supervisor.cluster.profilelock import profile_user
from supervisor.cluster.snapshots import Snapshots, open_store
from supervisor.cluster.snapstore import FileStore, object_key, parse_key
from supervisor.errors import ConfigError, Conflict, InvalidRequest, SnapshotStoreError
from supervisor.settings import ClusterConfig, InvalidValue, SnapshotsConfig
from tests.support.snapshots import LOGIN_FILES, listing, make_profile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("url", ["", "s3://zv-snaps", "s3://zv-snaps/a/b-c_d.e", "file:///srv/zv"])
def test_snapshot_urls_accepted(url: str) -> None:
    assert SnapshotsConfig(url=url).url == url


@pytest.mark.parametrize("values, key", [
    ({"url": "http://bucket/x"}, "url"), ({"url": "s3://Bad_Bucket"}, "url"),
    ({"url": "s3://zv/../x"}, "url"), ({"url": "s3://zv//x"}, "url"),
    ({"url": "file://host/srv"}, "url"), ({"url": "file:relative/dir"}, "url"),
    ({"url": "file:///srv/../etc"}, "url"), ({"endpoint_url": "minio:9000"}, "endpoint_url"),
    ({"access_key_id": "AKIA"}, "secret_access_key"), ({"secret_access_key": "s"}, "secret_access_key"),
    ({"region": ""}, "region"),
])
def test_snapshot_values_refused_by_key(values: dict[str, str], key: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        SnapshotsConfig(**values)
    assert refused.value.key == key


def test_snapshot_url_parts_and_the_secret_kept_out_of_repr() -> None:
    cfg = SnapshotsConfig(url="s3://zv-snaps/prod/eu", access_key_id="AKIA", secret_access_key="s3cr3t")
    assert (cfg.scheme, cfg.bucket, cfg.prefix, cfg.enabled) == ("s3", "zv-snaps", "prod/eu", True)
    assert "s3cr3t" not in repr(cfg) and "AKIA" in repr(cfg)
    assert SnapshotsConfig(url="file:///srv/zv").directory == "/srv/zv"
    assert not SnapshotsConfig().enabled and not ClusterConfig().enabled


@pytest.mark.parametrize("values, key", [
    ({"redis_url": "http://localhost:6379"}, "redis_url"),
    ({"redis_url": "redis://localhost:6379/0"}, "advertise_url"),
    ({"redis_url": "redis://r", "advertise_url": "10.0.0.5:8083"}, "advertise_url"),
    ({"advertise_url": "ftp://x"}, "advertise_url"), ({"lease_s": 0.5}, "lease_s"),
    ({"node_id": "a b"}, "node_id"), ({"node_id": "-x"}, "node_id"),
])
def test_cluster_values_refused_by_key(values: dict[str, object], key: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        ClusterConfig(**values)  # type: ignore[arg-type]
    assert refused.value.key == key


def test_cluster_accepts_its_schemes_and_defaults_the_node_to_the_host_name() -> None:
    for url in ("redis://r:6379/0", "rediss://r", "unix:///run/redis.sock"):
        cfg = ClusterConfig(redis_url=url, advertise_url="http://10.0.0.5:8083")
        assert cfg.enabled and cfg.node == socket.gethostname()
    assert ClusterConfig(node_id="node-1.eu").node == "node-1.eu"


def test_the_sections_load_from_the_file_and_errors_name_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[snapshots]\nurl = "file:///srv/zv"\n[cluster]\nlease_s = 3\n')
    loaded = config.load(path, env={"ZAPVISOR_SNAPSHOTS__REGION": "eu-west-1"})
    assert (loaded.snapshots.directory, loaded.snapshots.region, loaded.cluster.lease_s) == (
        "/srv/zv", "eu-west-1", 3.0)
    path.write_text('[snapshots]\nurl = "s3://x"\n')
    with pytest.raises(ConfigError, match=rf"\[snapshots\] url in {path}"):
        config.load(path, env={})
    path.write_text('[cluster]\nleases = 3\n')
    with pytest.raises(ConfigError, match=r"unknown key \[cluster\] leases"):
        config.load(path, env={})


def test_object_names_sort_as_their_tokens() -> None:
    keys = [object_key("a", t) for t in (9, 10, 100, 2**40)]
    assert sorted(keys) == keys
    assert [parse_key(k) for k in keys] == [("a", 9), ("a", 10), ("a", 100), ("a", 2**40)]
    for other in ("a/.x.part", "a/1.tar.gz", "../a/00000000000000000001.tar.gz",
                  "a/b/00000000000000000001.tar.gz"):
        assert parse_key(other) is None


def test_a_snapshot_carries_the_login_files_only(tmp_path: Path) -> None:
    make_profile(tmp_path / "p")
    files = {rel.as_posix() for rel in archive.login_files(tmp_path / "p")
             if (tmp_path / "p" / rel).is_file()}
    assert files == set(LOGIN_FILES)
    stats = archive.build(tmp_path / "p", tmp_path / "s.tar.gz")
    assert (stats.files, stats.raw_bytes) == (len(LOGIN_FILES), sum(map(len, LOGIN_FILES.values())))
    (tmp_path / "out").mkdir()
    assert archive.extract(tmp_path / "s.tar.gz", tmp_path / "out") == stats
    got = listing(tmp_path / "out")
    assert {rel: e[2] for rel, e in got.items() if e[0] == "file"} == LOGIN_FILES


def test_swap_in_replaces_a_profile_or_fills_an_empty_place(tmp_path: Path) -> None:
    for exists in (True, False):
        profile, new = tmp_path / f"profile{exists}", tmp_path / f".new{exists}"
        if exists:
            (profile / "old").mkdir(parents=True)
        (new / "Default").mkdir(parents=True)
        archive.swap_in(new, profile)
        assert [p.name for p in profile.iterdir()] == ["Default"] and not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profileFalse", "profileTrue"]


def test_file_store_writes_privately_and_lists_only_finished_objects(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    store = FileStore(root)
    source = tmp_path / "x.tar.gz"
    source.write_bytes(b"snapshot bytes")
    asyncio.run(store.put(object_key("a", 1), source))
    (root / "a" / ".tmpabc.part").write_bytes(b"half")  # another node's upload in progress
    assert [(o.key, o.size_bytes) for o in asyncio.run(store.objects("a"))] == [(object_key("a", 1), 14)]
    assert (root / "a").stat().st_mode & 0o777 == 0o700
    assert (root / object_key("a", 1)).stat().st_mode & 0o777 == 0o600
    asyncio.run(store.get(object_key("a", 1), tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == b"snapshot bytes"
    assert asyncio.run(store.objects("b")) == []
    (root / "a" / ".tmpabc.part").unlink()
    asyncio.run(store.delete([object_key("a", 1)]))
    assert not (root / "a").exists()


def test_an_unmounted_shared_directory_is_an_error_not_a_local_copy(tmp_path: Path) -> None:
    store = open_store(SnapshotsConfig(url=f"file://{tmp_path / 'not-mounted'}"))
    source = tmp_path / "x"
    source.write_bytes(b"x")
    with pytest.raises(SnapshotStoreError, match="not mounted"):
        asyncio.run(store.put(object_key("a", 1), source))
    assert not (tmp_path / "not-mounted").exists()


def test_open_store_needs_a_url_and_snapshots_check_their_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="url is empty"):
        open_store(SnapshotsConfig())
    snaps = Snapshots(FileStore(tmp_path))
    for session_id in ("../x", "a/b", ""):
        with pytest.raises(InvalidRequest, match="invalid session id"):
            asyncio.run(snaps.latest(session_id))
    for token in (-1, True, 10**20):
        with pytest.raises(InvalidRequest, match="fencing token"):
            asyncio.run(snaps.save("a", token, tmp_path))


def test_singleton_lock_counts_only_for_a_live_pid_of_this_host(tmp_path: Path) -> None:
    assert profile_user(tmp_path) is None
    (tmp_path / "SingletonLock").symlink_to(f"{socket.gethostname()}-{os.getpid()}")
    assert profile_user(tmp_path) == f"pid {os.getpid()} holds SingletonLock"
    (tmp_path / "SingletonLock").unlink()
    (tmp_path / "SingletonLock").symlink_to(f"otherhost-{os.getpid()}")
    assert profile_user(tmp_path) is None


def test_a_single_host_never_loads_boto3_or_redis() -> None:
    """Only supervisor/cluster imports them, and nothing loads that package's clients unless a
    cluster or snapshots are configured: the daemon, the API and the CLI load neither."""
    lazy = {"boto3", "botocore", "redis"}
    for path in (ROOT / "supervisor").rglob("*.py"):
        if path.parent.name == "cluster":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not {n.split(".")[0] for n in names} & lazy, f"{path} imports {names}"
    probe = ("import sys, supervisor.daemon, supervisor.api.app, supervisor.cli.main; "
             f"print(sorted(m for m in {sorted(lazy)!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=ROOT).stdout.strip()
    assert loaded == "[]"


def test_leftovers_of_an_interrupted_save_or_restore_go_at_the_next_one(tmp_path: Path) -> None:
    shared, session_dir = tmp_path / "shared", tmp_path / "sessions" / "a"
    shared.mkdir()
    make_profile(session_dir / "profile")
    (session_dir / ".snapshot-x1.tar.gz").write_bytes(b"half an archive")
    (session_dir / ".profile-restore-x2" / "Default").mkdir(parents=True)
    (session_dir / "tmp").mkdir()  # the session's own files stay
    asyncio.run(Snapshots(FileStore(shared)).save("a", 1, session_dir / "profile"))
    assert sorted(p.name for p in session_dir.iterdir()) == ["profile", "tmp"]


def test_a_profile_without_indexeddb_holds_no_login_to_save(tmp_path: Path) -> None:
    shared, profile = tmp_path / "shared", tmp_path / "sessions" / "a" / "profile"
    shared.mkdir()
    (profile / "Default" / "Cache").mkdir(parents=True)
    with pytest.raises(Conflict, match="holds no login"):
        asyncio.run(Snapshots(FileStore(shared)).save("a", 1, profile))
    assert list(shared.iterdir()) == []
