"""The CLI's own tools, as a new user meets them: ``--version``, completion, ``serve --config``,
one-line errors (JSON with ``--json``), a refused key that says where the CLI looked,
``status`` printed readably, and ``doctor`` on a healthy and on a broken set-up. Real CLI
processes against a real daemon (no session is started: no Chrome runs)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from supervisor.errors import ZapvisorError
from tests.integration.test_cli import zapvisor
from tests.support.daemon import Daemon, write_config
from tests.support.procs import wait_until


def test_version_and_completion(workdir: Path) -> None:
    version = zapvisor("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"zapvisor {importlib.metadata.version('zapvisor')}"
    script = zapvisor("completion", "bash")
    assert script.returncode == 0 and "_ZAPVISOR_COMPLETE=bash_complete" in script.stdout
    assert zapvisor("completion", "fish").stdout.count("_ZAPVISOR_COMPLETE") >= 1
    # What bash runs on <TAB> after the script is loaded: commands, then a command's options.
    words = zapvisor(env={"_ZAPVISOR_COMPLETE": "bash_complete", "COMP_WORDS": "zapvisor web",
                          "COMP_CWORD": "1"})
    assert words.stdout.split() == ["plain,webhooks"]
    options = zapvisor(env={"_ZAPVISOR_COMPLETE": "bash_complete",
                            "COMP_WORDS": "zapvisor events --ev", "COMP_CWORD": "2"})
    assert options.stdout.split() == ["plain,--events"]


def test_serve_takes_config_after_the_command_too(workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    bad = write_config(workdir / "bad.toml", {"server": {"prot": 1}})
    # The command's --config wins over the group's: the bad file is never read.
    with (workdir / "serve.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "supervisor", "--config", str(bad), "serve",
                                 "--config", str(d.config_path), "--json"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: proc.poll() is not None or _healthy(d), timeout=30, message="the daemon up")
        assert proc.poll() is None, (workdir / "serve.log").read_text()
        ready = [json.loads(line) for line in (workdir / "serve.log").read_text().splitlines()
                 if '"daemon.ready"' in line]
        assert ready and ready[0]["whatsapp_url"] == "http://127.0.0.1:9/"  # the page in use
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    refused = zapvisor("--config", str(d.config_path), "serve", "--config", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith(f"zapvisor: error: unknown key [server] prot in {bad}")


def _healthy(d: Daemon) -> bool:
    try:
        return bool(d.client.get("/health")["status"] == "ok")
    except ZapvisorError:
        return False


def test_errors_are_one_line_and_json_with_json(plain_daemon: Daemon) -> None:
    cfg = plain_daemon.config_path
    missing = zapvisor("stop", "ghost", "--json", config=cfg)
    assert missing.returncode == 1 and len(missing.stderr.splitlines()) == 1
    assert json.loads(missing.stderr) == {"error": {"type": "NotFound",
                                                    "message": "session 'ghost' does not exist"}}
    usage = zapvisor("create", config=cfg)
    assert usage.returncode == 2 and len(usage.stderr.splitlines()) == 1
    assert usage.stderr.startswith("zapvisor: error: Missing argument 'SESSION_ID'")
    assert "zapvisor create --help" in usage.stderr
    no_file = zapvisor("send", "a", "+244929782402", "--file", "/nonexistent", config=cfg)
    assert no_file.returncode == 2 and len(no_file.stderr.splitlines()) == 1
    not_a_key = zapvisor("list", "--api-key-file", str(cfg), config=cfg)
    assert not_a_key.returncode == 1 and len(not_a_key.stderr.splitlines()) == 1
    assert "does not hold an API key" in not_a_key.stderr and "test-key" not in not_a_key.stderr
    # Creating what exists says how to start it, in the API's words and in the CLI's.
    assert zapvisor("create", "vendas", "--no-start", config=cfg).returncode == 0
    status, _, body = plain_daemon.call("POST", "/api/sessions", {"id": "vendas"})
    assert status == 409 and body["error"]["message"] == (
        "session 'vendas' already exists and is STOPPED: start it instead "
        "(POST /api/sessions/vendas/start, or zapvisor start vendas --wait)")
    again = zapvisor("create", "vendas", config=cfg)
    assert again.returncode == 1 and again.stderr.strip() == (
        "zapvisor: error: session 'vendas' already exists and is STOPPED: start it with "
        "`zapvisor start vendas --wait` (shows the QR code if it needs one)")


def test_a_refused_key_says_where_the_cli_looked(plain_daemon: Daemon, workdir: Path) -> None:
    elsewhere = workdir / "elsewhere"  # no config.toml here, as outside a checkout
    elsewhere.mkdir()
    url = f"http://127.0.0.1:{plain_daemon.port}"
    env = {"ZAPVISOR_API_KEY": "", "ZAPVISOR_CONFIG": ""}
    lost = subprocess.run([sys.executable, "-m", "supervisor", "list", "--url", url], cwd=elsewhere,
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert lost.returncode == 1 and len(lost.stderr.splitlines()) == 1
    assert lost.stderr.startswith("zapvisor: error: missing or wrong API key")
    for said in (f"no config file ({elsewhere / 'config.toml'} or /etc/zapvisor/config.toml not found",
                 "ZAPVISOR_API_KEY is not set", f"no generated key at {elsewhere / 'var' / 'api_key'}"):
        assert said in lost.stderr
    wrong = zapvisor("list", config=plain_daemon.config_path, env={"ZAPVISOR_API_KEY": "nope"})
    assert wrong.returncode == 1 and "the key sent came from ZAPVISOR_API_KEY" in wrong.stderr


def test_status_prints_nested_values_readably(plain_daemon: Daemon) -> None:
    cfg = plain_daemon.config_path
    assert zapvisor("create", "vendas", "--no-start", config=cfg).returncode == 0
    totals = zapvisor("status", config=cfg)
    assert totals.returncode == 0, totals.stderr
    assert "{" not in totals.stdout and "[" not in totals.stdout  # no JSON inside the table
    lines = {line.split()[0]: line for line in totals.stdout.splitlines() if line.strip()}
    assert "STOPPED 1, STARTING 0" in lines["by_state"]
    assert lines["webhooks"].split()[1:] == ["pending", "0,", "delivered", "0,", "failed", "0"]
    assert "memory_total_bytes" in lines and lines["memory_total_bytes"].endswith(" MB")  # under "host"
    one = zapvisor("status", "vendas", config=cfg)
    assert one.stdout.splitlines()[:2] == ["vendas", "state         STOPPED"]
    assert "last_exit     -" in one.stdout


def test_doctor_on_a_healthy_host(plain_daemon: Daemon) -> None:
    cfg = plain_daemon.config_path
    cfg.chmod(0o644)  # the config holds the key: readable by everyone is worth a warning
    report = zapvisor("doctor", "--json", config=cfg)
    assert report.returncode == 0, report.stdout
    checks = {c["name"]: c for c in json.loads(report.stdout)["checks"]}
    assert list(checks) == ["config", "python", "chrome", "state_dir", "port", "api_key", "cgroups",
                            "systemd_analyze"]
    assert checks["chrome"]["status"] == "ok" and "chrom" in checks["chrome"]["message"].lower()
    assert checks["state_dir"] == {"name": "state_dir", "status": "ok", "fix": "",
                                   "message": f"{plain_daemon.state_dir} (0700, ours)"}
    assert checks["port"]["status"] == "ok"
    assert checks["port"]["message"].startswith(f"127.0.0.1:{plain_daemon.port} is held by a running zapvisor (")
    assert checks["api_key"]["status"] == "warn" and checks["api_key"]["fix"] == f"chmod 640 {cfg}"
    assert checks["cgroups"]["status"] in ("ok", "warn")  # depends on the host; never a failure
    cfg.chmod(0o640)
    fixed = json.loads(zapvisor("doctor", "--json", config=cfg).stdout)
    assert [c["status"] for c in fixed["checks"] if c["name"] == "api_key"] == ["ok"]
    assert fixed["ok"] is True


def test_doctor_says_what_to_fix(workdir: Path, free_port: int) -> None:
    state = workdir / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    with socket.socket() as other:  # another program holds the port (and is no zapvisor)
        other.bind(("127.0.0.1", free_port))
        cfg = write_config(workdir / "config.toml", {
            "server": {"port": free_port, "api_key_file": "missing_key"}, "state": {"dir": str(state)},
            "chrome": {"executable": "/bin/false"}})  # found, but it does not run as Chrome
        report = zapvisor("doctor", config=cfg)
        as_json = zapvisor("doctor", "--json", config=cfg)
    assert report.returncode == 1 and as_json.returncode == 1
    lines = report.stdout.splitlines()
    assert len(lines) == 8 and all(line.split()[0] in ("ok", "warn", "fail") for line in lines)
    by_name = {line.split()[1]: line for line in lines}
    assert by_name["chrome"].startswith("fail") and "/bin/false --version failed" in by_name["chrome"]
    assert "fix: apt-get install chromium-headless-shell" in by_name["chrome"]
    assert by_name["state_dir"].startswith("warn") and f"fix: chmod 700 {state}" in by_name["state_dir"]
    assert by_name["port"].startswith("fail") and "in use by another program" in by_name["port"]
    assert by_name["api_key"].startswith("fail") and str(workdir / "missing_key") in by_name["api_key"]
    assert json.loads(as_json.stdout)["ok"] is False
    broken = write_config(workdir / "broken.toml", {"chrome": {"executable": 3}})
    unreadable = zapvisor("doctor", config=broken)
    assert unreadable.returncode == 1
    assert unreadable.stdout.splitlines()[0].startswith("fail  config  [chrome] executable in")


def test_the_readme_recipe_follows_one_sessions_log(plain_daemon: Daemon) -> None:
    """Under systemd the daemon logs JSON lines (stderr is not a terminal), which
    ``journalctl -o cat`` prints as they are: the README's jq filter keeps one session's."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    recipe = next(line for line in readme.splitlines() if line.startswith("journalctl -u zapvisor -f -o cat |"))
    jq = recipe.split("|", 1)[1].split("  #")[0].strip()
    plain_daemon.client.post("/api/sessions", {"id": "sales", "start": False})
    plain_daemon.client.post("/api/sessions", {"id": "other", "start": False})
    plain_daemon.client.delete("/api/sessions/sales")
    wait_until(lambda: "session.deleted" in plain_daemon.log(), timeout=10, message="the log lines")
    log = plain_daemon.log() + "a line that is not JSON\n"  # journalctl shows those too
    out = subprocess.run(["bash", "-c", jq], input=log, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    picked = [json.loads(line) for line in out.stdout.splitlines()]
    assert {"session.created", "session.deleted"} <= {e["event"] for e in picked}
    assert {e["session_id"] for e in picked} == {"sales"}
