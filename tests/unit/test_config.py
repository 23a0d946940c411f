"""config.toml loading: defaults, types, unknown keys, environment overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from supervisor import config
from supervisor.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_equals_defaults() -> None:
    shipped = config.load(REPO / "config.toml", env={})
    defaults = config.load(None, env={})
    for section in config._SECTIONS:  # every section, including ones added later
        assert getattr(shipped, section) == getattr(defaults, section), section


def test_state_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[state]\ndir = "data"\n')
    assert config.load(path, env={}).state_dir == (tmp_path / "data").resolve()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[server]\nprot = 1\n", "unknown key [server] prot in"),
        ("[nope]\nx = 1\n", "unknown section [nope] in"),
        ("[server]\nport = \"80\"\n", "[server] port in"),
        ("[server]\nport = 70000\n", "[server] port in"),
        ("[limits]\nheartbeat_timeout_s = 1\nheartbeat_interval_s = 2\n", "heartbeat_timeout_s"),
        ("[chrome]\nextra_args = [1]\n", "[chrome] extra_args in"),
        ("[chrome]\nextra_args = [\"--remote-debugging-port=9222\"]\n", "[chrome] extra_args in"),
        ("[chrome]\nlean = [\"in-process-gpu\", \"single-process\"]\n", "[chrome] lean in"),
        ("[chrome]\nlean = [\"no-zygote\", \"no-zygote\"]\n", "[chrome] lean in"),
        ("[chrome]\nlean = \"no-zygote\"\n", "[chrome] lean in"),
        ("[chrome]\njs_heap_max_mb = -1\n", "[chrome] js_heap_max_mb in"),
        ("[chrome]\njs_heap_max_mb = 16\n", "[chrome] js_heap_max_mb in"),
        ("[chrome]\njs_heap_max_mb = \"4g\"\n", "[chrome] js_heap_max_mb in"),
        ("[server\n", "is not valid TOML"),
        ("[sessions]\nrestore_on_boot = 1\n", "[sessions] restore_on_boot in"),
        ("[whatsapp]\ndriver = \"selenium\"\n", "[whatsapp] driver in"),
        ("[whatsapp]\ncommands = [\"ping\", \"rm\"]\n", "[whatsapp] commands in"),
        ("[whatsapp]\nqr_max_refreshes = 0\n", "[whatsapp] qr_max_refreshes in"),
        ("[whatsapp]\ncommand_prefix = \" \"\n", "[whatsapp] command_prefix in"),
        ("[whatsapp]\nqr_timeout_s = 0\n", "[whatsapp] qr_timeout_s in"),
        ("[whatsapp]\nignore_group = true\n", "unknown key [whatsapp] ignore_group in"),
        ("[sessions]\ndefault_session = \"../x\"\n", "[sessions] default_session in"),
        ("[sessions]\ncleanup_delay_s = -1\n", "[sessions] cleanup_delay_s in"),
        ("[roles]\nenv_fil = \".env\"\n", "unknown key [roles] env_fil in"),
        ("[roles]\nbase_url = \"ftp://wa.example.com\"\n", "[roles] base_url in"),
        ("[roles]\nbase_url = \"https://wa.example.com/?k=$KEY\"\n", "[roles] base_url in"),
        ("[cluster]\nredis_url = \"http://127.0.0.1:6379\"\nadvertise_url = \"http://n1:8083\"\n",
         "[cluster] redis_url in"),
        ("[cluster]\nredis_url = \"redis://127.0.0.1:6379\"\n", "[cluster] advertise_url in"),
        ("[cluster]\nadvertise_url = \"10.0.0.5:8083\"\n", "[cluster] advertise_url in"),
        ("[cluster]\nlease_s = 0.5\n", "[cluster] lease_s in"),
        ("[cluster]\nnode_id = \"a b\"\n", "[cluster] node_id in"),
        ("[cluster]\nlease = 10\n", "unknown key [cluster] lease in"),
        ("[snapshots]\nurl = \"s3://\"\n", "[snapshots] url in"),
        ("[snapshots]\nurl = \"file://relative/dir\"\n", "[snapshots] url in"),
        ("[snapshots]\nurl = \"/shared/dir\"\n", "[snapshots] url in"),
        ("[snapshots]\nregion = \"\"\n", "[snapshots] region in"),
        ("[snapshots]\naccess_key_id = \"AKIA\"\n", "[snapshots] secret_access_key in"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(path, env={})
    assert needle in info.value.message
    assert str(path) in info.value.message or "TOML" in info.value.message


def test_env_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[roles]\nenv_file = "../app/.env"\nbase_url = "https://wa.example.com/zap/"\n')
    cfg = config.load(path, env={})
    assert cfg.env_file == tmp_path / ".." / "app" / ".env"
    assert cfg.public_url == "https://wa.example.com/zap"
    assert config.load(None, env={}).env_file is None


def test_env_overrides_and_their_errors(tmp_path: Path) -> None:
    cfg = config.load(None, env={"ZAPVISOR_SERVER__PORT": "9001", "ZAPVISOR_CHROME__HEADLESS": "no",
                                 "ZAPVISOR_API_KEY": "ignored: not a config variable"})
    assert cfg.server.port == 9001 and cfg.chrome.headless is False
    with pytest.raises(ConfigError, match="ZAPVISOR_SERVER__PROT"):
        config.load(None, env={"ZAPVISOR_SERVER__PROT": "1"})
    with pytest.raises(ConfigError, match="must be a number"):
        config.load(None, env={"ZAPVISOR_SERVER__PORT": "eighty"})


def test_config_is_frozen_and_replace_validates() -> None:
    cfg = config.load(None, env={})
    with pytest.raises(AttributeError):
        cfg.server.port = 1  # type: ignore[misc]
    assert cfg.replace("server", port=9002).server.port == 9002
    with pytest.raises(ConfigError):
        cfg.replace("server", port=-1)


def test_missing_explicit_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.find_config_file("/nonexistent/zapvisor.toml")


def test_cluster_and_snapshots_sections(tmp_path: Path) -> None:
    """One host by default; a cluster node from the file and the environment; no secret in a
    repr or an error message."""
    import socket

    single = config.load(None, env={})
    assert not single.cluster.enabled and single.cluster.node == socket.gethostname()
    assert single.snapshots.url == ""
    path = tmp_path / "node.toml"
    path.write_text('[cluster]\nredis_url = "redis://:hunter2@10.0.0.9:6379/1"\nnode_id = "n-1.a"\n'
                    'advertise_url = "http://10.0.0.5:8083"\nlease_s = 3\n'
                    '[snapshots]\nurl = "s3://zv-profiles/prod"\nendpoint_url = "http://127.0.0.1:9000"\n'
                    'access_key_id = "AKIAEXAMPLE"\nsecret_access_key = "s3cr3t-value"\n')
    cfg = config.load(path, env={"ZAPVISOR_CLUSTER__LEASE_S": "4.5"})
    assert cfg.cluster.enabled and cfg.cluster.node == "n-1.a" and cfg.cluster.lease_s == 4.5
    assert cfg.snapshots.secret_access_key == "s3cr3t-value"
    assert "hunter2" not in repr(cfg) and "s3cr3t-value" not in repr(cfg)
    assert config.load(None, env={"ZAPVISOR_SNAPSHOTS__URL": "file:///srv/zv"}).snapshots.url == "file:///srv/zv"
    path.write_text('[cluster]\nredis_url = "redis://:hunter2@10.0.0.9:bad/1"\nadvertise_url = "http://n:1"\n')
    with pytest.raises(ConfigError) as info:
        config.load(path, env={})
    assert "[cluster] redis_url in" in info.value.message and "hunter2" not in info.value.message
    for url in ("unix:///run/redis/redis.sock", "rediss://redis.example.com"):
        path.write_text(f'[cluster]\nredis_url = "{url}"\nadvertise_url = "https://n1.example.com"\n')
        assert config.load(path, env={}).cluster.redis_url == url


def test_the_start_queue_is_one_launch_per_cpu_the_daemon_may_use() -> None:
    """[sessions] max_concurrent_starts = 0 (the default): as many Chrome launches at once as
    CPUs the daemon may run on (its affinity: a container or ``taskset`` with fewer CPUs gets
    fewer), else the number set. Pinned to one CPU in a child interpreter of its own."""
    code = ("import os; from supervisor.settings import SessionsConfig as S; "
            "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "print(S().start_slots, S(max_concurrent_starts=3).start_slots)")
    pinned = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout.split() == ["1", "3"]
    assert config.load(None, env={}).sessions.start_slots == len(os.sched_getaffinity(0))
