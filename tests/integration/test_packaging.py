"""``pip install .``: the wheel built from a fresh clone carries every file the package runs on
(the page script, the dashboard), declares every distribution the code imports with a lower
bound, and a fresh virtualenv made from it runs the daemon, WhatsApp session included, without
anything of the checkout."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.checkout import ROOT, base_python, copy_checkout, files_naming
from tests.support.daemon import Daemon
from tests.support.procs import kill_marked
from tests.support.wa import PHONE_A, fast_simulator, login, wa_daemon
from tests.wasim import RunningSimulator

PACKAGES = ("supervisor", "worker")


@pytest.fixture(scope="module")
def clean_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout as a fresh clone has it."""
    return copy_checkout(tmp_path_factory.mktemp("clone").resolve())


@pytest.fixture(scope="module")
def wheel(clean_checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip install .`` builds from a fresh clone (built once for the module)."""
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
                    "--no-deps", "-w", str(out), str(clean_checkout)], check=True, timeout=300)
    [built] = out.glob("zapvisor-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv (of the base interpreter) with the wheel and its dependencies."""
    path = tmp_path_factory.mktemp("venv").resolve()
    subprocess.run([base_python(), "-m", "venv", str(path)], check=True, timeout=120)
    subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check", str(wheel)], check=True, timeout=600)
    return path


def test_the_wheel_carries_every_file_of_the_packages(wheel: Path) -> None:
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", *PACKAGES], capture_output=True,
                             text=True, check=True).stdout.split()
    expected = {name for name in tracked if (ROOT / name).is_file()}
    with zipfile.ZipFile(wheel) as archive:
        carried = {name for name in archive.namelist() if name.split("/")[0] in PACKAGES}
    # Exactly the package's files: the page script and the dashboard, and nothing stale.
    assert carried == expected
    assert {"worker/drivers/wa_inject.js", "supervisor/api/static/index.html"} <= carried


def _imported_distributions() -> set[str]:
    """Distributions whose modules supervisor/ and worker/ import, lazily or not."""
    modules: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}
    owners = importlib.metadata.packages_distributions()
    missing = sorted(m for m in third_party if m not in owners)
    assert not missing, f"imported but installed by no distribution: {missing}"
    return {canonicalize_name(dist) for module in third_party for dist in owners[module]}


def test_the_wheel_declares_every_imported_distribution_with_a_lower_bound(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    requires = [Requirement(line.split(":", 1)[1].strip()) for line in metadata.splitlines()
                if line.startswith("Requires-Dist:")]
    runtime = {canonicalize_name(r.name): r for r in requires if r.marker is None}
    imported = _imported_distributions()
    assert {"aiohttp", "pyppeteer", "psutil", "structlog", "click", "segno"} <= imported
    assert sorted(imported - set(runtime)) == []
    for name in imported:
        assert any(spec.operator == ">=" for spec in runtime[name].specifier), runtime[name]


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with fast_simulator(ref_ttl_s=20.0) as running:
        yield running


@pytest.mark.chrome
def test_a_fresh_virtualenv_runs_the_daemon_and_a_session_without_the_checkout(
        venv: Path, clean_checkout: Path, workdir: Path, free_port: int,
        sim: RunningSimulator) -> None:
    # Nothing in the virtualenv leads back to a checkout (an editable install would).
    assert files_naming(venv, [str(ROOT), str(clean_checkout)]) == {}
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import supervisor, worker, worker.drivers.whatsapp as w, aiohttp;"
         "print(supervisor.__file__, worker.__file__, w.__file__, aiohttp.__file__)"],
        cwd=elsewhere, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    for path in where.stdout.split():
        assert Path(path).is_relative_to(venv), path

    d: Daemon = wa_daemon(workdir, free_port, sim)
    try:
        d.start(command=[str(venv / "bin" / "zapvisor")], cwd=elsewhere, env={"PYTHONPATH": ""})
        assert psutil.Process(d.proc.pid).cmdline()[:2] == [  # type: ignore[union-attr]
            str(venv / "bin" / "python"), str(venv / "bin" / "zapvisor")]
        # The page script does its work: the QR code read off the page, scanned, logged in.
        d.client.post("/api/sessions", {"id": "a"})
        assert login(d, sim, "a", PHONE_A)["phone_number"] == PHONE_A
        # The dashboard, from the package's files.
        base = f"http://127.0.0.1:{free_port}"
        with urllib.request.urlopen(f"{base}/", timeout=30) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/html")
            assert b"/static/app.js" in resp.read()
        with urllib.request.urlopen(f"{base}/static/app.js", timeout=30) as resp:
            assert resp.read() == (ROOT / "supervisor/api/static/app.js").read_bytes()
        assert d.stop() == 0
    finally:
        d.kill()
        kill_marked(d.state_dir)
