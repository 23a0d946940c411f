"""scripts/install.sh into a temporary root (``--root``, as a package build stages files): a
virtualenv of its own built from a wheel, the config, the state dir and the unit, naming the
final paths and nothing of the checkout (not its .venv, not its var/ with the key and profiles);
run again, it replaces the virtualenv and keeps the config; it refuses to replace what is not
its own."""

from __future__ import annotations

import json
import stat
import subprocess
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.checkout import ROOT, base_python, copy_checkout, files_naming
from tests.support.daemon import Daemon
from tests.support.procs import kill_marked

PREFIX = "/srv/zapvisor"  # not the default, so every path the script writes must follow it
SECRET = "planted-api-key-8d1e0c"


@dataclass(frozen=True)
class Installed:
    """A checkout with what a developer's has lying around, and the root it was installed into."""

    checkout: Path
    root: Path

    @property
    def venv(self) -> Path:
        return self.root / PREFIX.lstrip("/")

    def python(self) -> list[str]:
        """Run the installed command the way its shebang would, from inside the root."""
        return [str(self.venv / "bin" / "python"), str(self.venv / "bin" / "zapvisor")]


def install(checkout: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """scripts/install.sh of ``checkout`` into ``root``."""
    return subprocess.run(["bash", str(checkout / "scripts" / "install.sh"), "--root", str(root),
                           "--prefix", PREFIX, "--python", base_python()],
                          capture_output=True, text=True, timeout=900, cwd=checkout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("install").resolve()
    checkout = copy_checkout(base / "checkout")
    # A developer's checkout: the generated key and a profile, a virtualenv, a stale build.
    (checkout / "var" / "sessions" / "a").mkdir(parents=True)
    (checkout / "var" / "api_key").write_text(SECRET)
    (checkout / "var" / "sessions" / "a" / "Cookies").write_text(SECRET)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "zapvisor").write_text(f"#!{checkout}/.venv/bin/python\n")
    (checkout / "build" / "lib" / "supervisor").mkdir(parents=True)
    (checkout / "build" / "lib" / "supervisor" / "stale_module.py").write_text("")
    result = install(checkout, base / "root")
    assert result.returncode == 0, result.stderr[-4000:]
    return Installed(checkout, base / "root")


def test_the_installed_tree_names_the_prefix_and_nothing_of_the_checkout(installed: Installed) -> None:
    venv = installed.venv
    assert (venv / "bin" / "zapvisor").read_text().splitlines()[0] == f"#!{PREFIX}/bin/python"
    for script in (venv / "bin").iterdir():
        head = script.read_bytes()[:200] if not script.is_symlink() else b""
        if head.startswith(b"#!"):
            assert head.startswith(f"#!{PREFIX}/bin/".encode()), script
    needles = [str(ROOT), str(installed.checkout), str(installed.root), SECRET]
    assert files_naming(installed.root, needles) == {}
    site = next(venv.glob("lib/python3.*/site-packages"))
    assert (site / "worker" / "drivers" / "wa_inject.js").is_file()
    assert (site / "supervisor" / "api" / "static" / "index.html").is_file()
    assert not (site / "supervisor" / "stale_module.py").exists()
    assert not (venv / ".venv").exists() and not (venv / "var").exists()
    assert sorted(p.name for p in installed.root.iterdir()) == ["etc", "srv", "var"]
    assert sorted(p.name for p in venv.parent.iterdir()) == ["zapvisor"]  # no staging left


def test_config_state_dir_and_unit(installed: Installed, tmp_path: Path) -> None:
    config = installed.root / "etc" / "zapvisor" / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    shipped = tomllib.loads((installed.checkout / "config.toml").read_text())
    written = tomllib.loads(config.read_text())
    assert written["state"] == {"dir": "/var/lib/zapvisor"}
    assert written | {"state": shipped["state"]} == shipped
    state = installed.root / "var" / "lib" / "zapvisor"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700 and list(state.iterdir()) == []

    unit = (installed.root / "etc" / "systemd" / "system" / "zapvisor.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.split()[0] == f"ExecStart={PREFIX}/bin/zapvisor"
    assert f"Documentation=file://{PREFIX}/README.md" in unit
    assert (installed.venv / "README.md").is_file()
    assert unit.replace(PREFIX, "/opt/zapvisor") == (ROOT / "systemd" / "zapvisor.service").read_text()
    # systemd-analyze verify wants ExecStart to exist: point it at the staged one.
    staged = tmp_path / "zapvisor.service"
    staged.write_text(unit.replace(f"{PREFIX}/bin/zapvisor", str(installed.venv / "bin" / "zapvisor")))
    result = subprocess.run(["systemd-analyze", "verify", str(staged)], capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stderr.strip()) == (0, "")


def test_the_installed_command_serves_on_the_installed_config(installed: Installed, workdir: Path,
                                                              free_port: int) -> None:
    help_text = subprocess.run([*installed.python(), "--help"], capture_output=True, text=True,
                               check=True, cwd=workdir).stdout
    assert "serve" in help_text
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/")
    d.config_path = installed.root / "etc" / "zapvisor" / "config.toml"
    # The service's config, with this test's port and state dir; the key is the generated one.
    env = {"ZAPVISOR_SERVER__PORT": str(free_port), "ZAPVISOR_STATE__DIR": str(d.state_dir),
           "PYTHONPATH": ""}
    try:
        d.start(command=installed.python(), cwd=workdir, env=env)
        key = d.state_dir / "api_key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        # The CLI of the install finds the daemon and the key through the same config.
        cli = subprocess.run([*installed.python(), "--config", str(d.config_path), "status", "--json"],
                             capture_output=True, text=True, cwd=workdir, timeout=60,
                             env={"PATH": "/usr/bin:/bin", **env})
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["per_session"] == []
        with urllib.request.urlopen(f"http://127.0.0.1:{free_port}/", timeout=30) as resp:
            assert resp.status == 200 and b"/static/app.js" in resp.read()
        assert d.stop() == 0
    finally:
        d.kill()
        kill_marked(d.state_dir)


def test_again_it_replaces_the_virtualenv_and_keeps_the_config(installed: Installed) -> None:
    config = installed.root / "etc" / "zapvisor" / "config.toml"
    edited = config.read_text().replace("port = 8083", "port = 9123")
    config.write_text(edited)
    leftover = installed.venv / "leftover"
    leftover.write_text("")
    result = install(installed.checkout, installed.root)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "keeping the existing" in result.stderr
    assert config.read_text() == edited
    assert not leftover.exists() and (installed.venv / "bin" / "zapvisor").is_file()
    assert sorted(p.name for p in installed.venv.parent.iterdir()) == ["zapvisor"]


def test_it_refuses_to_replace_what_is_not_its_own(tmp_path: Path) -> None:
    # The old recipe's copy of a checkout, with its .venv and var/.
    old = tmp_path / "opt" / "zapvisor"
    (old / "var").mkdir(parents=True)
    (old / "var" / "api_key").write_text(SECRET)
    (old / "setup.cfg").write_text("")
    result = subprocess.run(["bash", str(ROOT / "scripts" / "install.sh"), "--root", str(tmp_path),
                             "--python", base_python()], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "is not a zapvisor virtualenv" in result.stderr and "move it away" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opt"]
    assert (old / "var" / "api_key").read_text() == SECRET
    assert sorted(p.name for p in old.iterdir()) == ["setup.cfg", "var"]
