"""The monitoring files that ship (contrib/): the Prometheus alerts pass ``promtool check
rules`` and their own unit tests (``promtool test rules``); the Grafana dashboard's queries
parse; and every metric either names is one a live daemon exports."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.checkout import ROOT
from tests.support.daemon import API_KEY, Daemon
from tests.support.procs import wait_until

PROMETHEUS = ROOT / "contrib" / "prometheus"
DASHBOARD = ROOT / "contrib" / "grafana" / "zapvisor.json"
#: The names of samples each kind of metric family has in the exposition format.
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "gauge": ("",), "unknown": ("",)}
PSI = Path("/proc/pressure/cpu")


def promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 13 rules found" in checked.stdout
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def _queries(dashboard: dict[str, object]) -> list[str]:
    """Every PromQL query of the dashboard: its panels' targets (rows' own panels too)."""
    found: list[str] = []

    def walk(panels: object) -> None:
        for panel in panels if isinstance(panels, list) else []:
            found.extend(target["expr"] for target in panel.get("targets", []))
            walk(panel.get("panels"))

    walk(dashboard["panels"])
    return found


def test_the_dashboard_is_well_formed_and_its_queries_parse(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "zapvisor" and dashboard["schemaVersion"] >= 36
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels)
    assert all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
               for p in panels if p["type"] != "row")
    queries = _queries(dashboard)
    assert len(queries) >= 30
    # Grafana fills in its variables before Prometheus sees a query; promtool parses each one as
    # a recording rule (a rules file may be JSON, which is YAML).
    filled = [re.sub(r"\$(instance|session)\b", ".*", q).replace("$__rate_interval", "5m")
              for q in queries]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(filled)]}]}
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    checked = promtool("check", "rules", "rules.json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _scrape(d: Daemon) -> dict[str, str]:
    """The metric families of GET /metrics, with their types."""
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}/metrics", headers={"X-Api-Key": API_KEY})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return {f.name: f.type for f in text_string_to_metric_families(resp.read().decode())}


def _sample(d: Daemon, name: str) -> float | None:
    req = urllib.request.Request(f"http://127.0.0.1:{d.port}/metrics", headers={"X-Api-Key": API_KEY})
    with urllib.request.urlopen(req, timeout=30) as resp:
        for family in text_string_to_metric_families(resp.read().decode()):
            for sample in family.samples:
                if sample.name == name:
                    return float(sample.value)
    return None


def test_every_metric_the_files_name_is_exported(workdir: Path, free_port: int) -> None:
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/", limits={"check_interval_s": 0.2})
    d.start()
    try:
        if PSI.exists():  # the host watch reads it at its first checks; without it, no gauge
            wait_until(lambda: "zapvisor_host_cpu_pressure_percent" in _scrape(d), timeout=30,
                       message="the CPU pressure gauge")
        families = _scrape(d)
        assert _sample(d, "zapvisor_session_memory_limit_bytes") == 1536 * 2**20  # the default
    finally:
        assert d.stop() == 0
    exported = {family + suffix for family, kind in families.items() for suffix in SUFFIXES[kind]}
    if not PSI.exists():
        exported.add("zapvisor_host_cpu_pressure_percent")
    assert {"zapvisor_send_wait_seconds_bucket", "zapvisor_events_total", "zapvisor_sessions",
            "zapvisor_whatsapp_web_info"} <= exported
    for path in (DASHBOARD, PROMETHEUS / "alerts.yml", PROMETHEUS / "alerts_test.yml"):
        named = set(re.findall(r"\bzapvisor_[a-z0-9_]+", path.read_text()))
        assert len(named) >= 10, path
        assert sorted(named - exported) == [], path


def test_no_memory_limit_means_no_limit_gauge(workdir: Path, free_port: int) -> None:
    # The alert divides by it: a 0 would make every session "near" the limit.
    d = Daemon(workdir, free_port, "http://127.0.0.1:9/", limits={"memory_max_mb": 0})
    d.start()
    try:
        assert "zapvisor_session_memory_limit_bytes" not in _scrape(d)
        assert "zapvisor_session_memory_bytes" in _scrape(d)
    finally:
        assert d.stop() == 0
