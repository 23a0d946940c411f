"""The zapvisor CLI as users run it: a real process against a real daemon."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.daemon import API_KEY, Daemon


def zapvisor(*args: str, config: Path | None = None, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "supervisor"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def test_lifecycle_commands_without_chrome(plain_daemon: Daemon) -> None:
    cfg = plain_daemon.config_path
    created = zapvisor("create", "vendas", "--no-start", "--metadata", '{"team": "sales"}',
                       "--json", config=cfg)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["metadata"] == {"team": "sales"}
    table = zapvisor("list", config=cfg)
    assert table.returncode == 0
    header, row = table.stdout.splitlines()[:2]
    assert header.split()[:7] == ["ID", "STATE", "WORKER", "CHROME", "MEMORY", "UPTIME", "RESTARTS"]
    assert row.split()[:2] == ["vendas", "STOPPED"]
    status = zapvisor("status", "vendas", "--json", config=cfg)
    assert json.loads(status.stdout)["state"] == "STOPPED"
    totals = zapvisor("status", config=cfg)
    assert "sessions" in totals.stdout and totals.returncode == 0
    deleted = zapvisor("delete", "vendas", "--yes", config=cfg)
    assert deleted.returncode == 0
    assert json.loads(zapvisor("list", "--json", config=cfg).stdout)["sessions"] == []


def test_errors_are_one_line_without_traceback(plain_daemon: Daemon) -> None:
    cfg = plain_daemon.config_path
    missing = zapvisor("stop", "ghost", config=cfg)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "zapvisor: error: session 'ghost' does not exist"
    bad_id = zapvisor("create", "../x", config=cfg)
    assert bad_id.returncode == 1 and "invalid session id" in bad_id.stderr
    wrong_key = zapvisor("list", config=cfg, env={"ZAPVISOR_API_KEY": "nope"})
    assert wrong_key.returncode == 1 and "API key" in wrong_key.stderr
    with socket.socket() as sock:  # bound but not listening: connection refused
        sock.bind(("127.0.0.1", 0))
        down = zapvisor("list", "--url", f"http://127.0.0.1:{sock.getsockname()[1]}", config=cfg)
    assert down.returncode == 1
    assert "daemon is not running" in down.stderr and "Traceback" not in down.stderr


def test_bad_config_names_the_key_and_file(workdir: Path) -> None:
    bad = workdir / "config.toml"
    bad.write_text("[server]\nprot = 8083\n")
    result = zapvisor("serve", config=bad)
    assert result.returncode == 1
    assert f"unknown key [server] prot in {bad}" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reads_the_generated_key(workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/", server={"api_key": ""})
    d.start()
    try:
        key_file = d.state_dir / "api_key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        generated = d.events("api_key.generated")[0]
        assert generated["saved_in"] == str(key_file) and "api_key" not in generated
        assert key_file.read_text().strip() not in d.log()  # the path is logged, never the key
        listed = zapvisor("list", "--json", config=d.config_path)
        assert listed.returncode == 0, listed.stderr
    finally:
        d.stop()
    assert API_KEY not in key_file.read_text()


def test_the_key_comes_from_the_environment_or_a_file_and_the_flag_is_warned_about(
        plain_daemon: Daemon) -> None:
    cfg, wrong = plain_daemon.config_path, plain_daemon.workdir / "wrong_key"
    wrong.write_text("not-the-key\n")
    right = plain_daemon.workdir / "right_key"
    right.write_text(API_KEY + "\n")
    no_key = {"ZAPVISOR_API_KEY": ""}
    from_env = zapvisor("list", config=cfg, env={"ZAPVISOR_API_KEY": API_KEY})
    assert from_env.returncode == 0 and from_env.stderr == ""
    from_file = zapvisor("list", "--api-key-file", str(right), config=cfg, env=no_key)
    assert from_file.returncode == 0 and from_file.stderr == ""
    # The file and the variable come before the config's key: a wrong one is used, and refused.
    refused = zapvisor("list", "--api-key-file", str(wrong), config=cfg, env=no_key)
    assert refused.returncode == 1 and "API key" in refused.stderr
    # The flag still works, with a warning: any local user can read a command line.
    flagged = zapvisor("list", "--api-key", API_KEY, config=cfg, env=no_key)
    assert flagged.returncode == 0
    assert "warning: --api-key shows the key to every local user" in flagged.stderr
    missing = zapvisor("list", "--api-key-file", str(plain_daemon.workdir / "none"), config=cfg)
    assert missing.returncode == 1 and "--api-key-file" in missing.stderr and "Traceback" not in missing.stderr
