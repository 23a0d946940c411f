"""The dashboard on the nodes of a cluster, in real headless Chromium: two real daemons on a real
Redis (tests/support/cluster.py), sessions on the WhatsApp Web simulator. The Cluster view lists
the nodes (lease, load, up or draining, the one serving the page) and where each session runs
with its fencing token, as the API says; a node is drained and undrained from it (and a retired
one forgotten), after a confirmation that can be cancelled; the sessions table says which node
runs each session. On a single host the Cluster link is not shown.

Screenshots go to tests/artifacts/ (not committed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import blocking, chromium, open_tab, sign_in
from tests.support.cluster import cluster_of
from tests.support.daemon import Daemon
from tests.support.procs import wait_until
from tests.support.redis import RedisServer
from tests.wasim import RunningSimulator

NODES = "#cluster-nodes"
PLACED = "#cluster-sessions"


def _create(d: Daemon, session_id: str, **body: Any) -> None:
    status, _, answer = d.call("POST", "/api/sessions", {"id": session_id, **body})
    assert status == 201, answer


def _node(d: Daemon, name: str) -> dict[str, Any]:
    node: dict[str, Any] = next(n for n in d.client.get("/api/cluster")["nodes"] if n["node"] == name)
    return node


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_cluster_view_shows_nodes_and_placement_and_drains_a_node(
        workdir: Path, redis_server: RedisServer, sim: RunningSimulator) -> None:
    (workdir / "shared").mkdir(mode=0o700)
    snapshots = {"url": f"file://{workdir / 'shared'}", "every_h": 0.0}
    with cluster_of(workdir, redis_server, sim, 2, snapshots) as cluster:
        n1, n2 = cluster.nodes
        # Stopped sessions on each node (no Chrome), and one running on n1 for the drain to move.
        _create(n1, "quiet-a", node="n1", start=False)
        _create(n1, "quiet-b", node="n2", start=False)
        _create(n2, "mover", node="n1")
        await blocking(n1.wait_state, "mover", "SCAN_QR_CODE", 30)
        async with chromium(workdir / "browser") as browser:
            tab = await open_tab(browser, n2, "desktop", "/sessions")
            await sign_in(tab)
            # The sessions table says where each one runs (n2 serves the page, n1 runs two).
            for session_id, node in (("quiet-a", "n1"), ("quiet-b", "n2"), ("mover", "n1")):
                await tab.has_text(f'tr[data-session="{session_id}"] td[data-label="Node"]', node)
            await tab.visible('#sessions-table th.cluster-only')
            await tab.shot("cluster-sessions")

            # The Cluster view: both nodes up, n2 is "this node", loads and placement as the API says.
            await tab.click("#nav-cluster")
            await tab.until("() => location.pathname === '/cluster'", what="the cluster view")
            n1_row, n2_row = f'{NODES} tr[data-node="n1"]', f'{NODES} tr[data-node="n2"]'
            await tab.has_text(n1_row, "Up")
            await tab.has_text(n2_row, "this node")
            assert await tab.page.evaluate("s => document.querySelector(s).hidden", f"{n1_row} .this-node")
            await tab.has_text(f'{n1_row} td[data-label="Address"]', n1.client.base_url)
            await tab.has_text(f'{n1_row} td[data-label="Sessions"]', "1 / ")
            await tab.has_text(f'{n2_row} td[data-label="Sessions"]', "0 / ")
            await tab.has_text(f'{n1_row} td[data-label="Lease renewed"]', " s ago")
            placed = {p["session"]: p for p in (await blocking(n2.client.get, "/api/cluster"))["sessions"]}
            assert {s: p["node"] for s, p in placed.items()} == {"quiet-a": "n1", "quiet-b": "n2", "mover": "n1"}
            for session_id, p in placed.items():
                row = f'{PLACED} tr[data-session="{session_id}"]'
                await tab.has_text(f'{row} td[data-label="Node"]', str(p["node"]))
                assert await tab.text(f'{row} td[data-label="Fencing token"]') == str(p["token"])
            await tab.shot("cluster")

            # Drain n1: a cancelled confirmation changes nothing.
            await tab.click(f"{n1_row} button[data-action=drain]")
            await tab.visible("dialog.dialog")
            assert "Drain n1?" in await tab.text("dialog.dialog")
            await tab.page.keyboard.press("Escape")
            await tab.until("() => !document.querySelector('dialog')", what="the dialog closed")
            assert (await blocking(_node, n2, "n1"))["draining"] is False
            # Confirmed: n1 drains, its running session moves to n2, the page follows.
            await tab.click(f"{n1_row} button[data-action=drain]")
            await tab.click("dialog button.danger")
            await tab.has_text("#toasts", "n1 drained: 1 session moved", timeout=60)
            await tab.has_text(n1_row, "Draining", timeout=30)
            await tab.has_text(f'{PLACED} tr[data-session="mover"] td[data-label="Node"]', "n2", timeout=60)
            assert (await blocking(_node, n2, "n1"))["draining"] is True
            assert (await blocking(cluster.owners))["mover"] == "n2"
            await blocking(n2.wait_state, "mover", "SCAN_QR_CODE", 30)
            await tab.visible(f"{n1_row} button[data-action=undrain]")
            await tab.shot("cluster-drained")

            # Undrain, confirmed: n1 is up again.
            await tab.click(f"{n1_row} button[data-action=undrain]")
            await tab.click("dialog button.primary")
            await tab.has_text(n1_row, "Up", timeout=30)
            assert (await blocking(_node, n2, "n1"))["draining"] is False
            await tab.never_reloaded()
            assert tab.errors == []

            phone = await open_tab(browser, n1, "phone", "/cluster")
            await sign_in(phone)
            await phone.has_text(f'{NODES} tr[data-node="n1"]', "this node")
            await phone.shot("cluster")
            assert await phone.page.evaluate("() => document.documentElement.scrollWidth") <= 390
            assert phone.errors == []
            await phone.page.close()

            # n1 retired (its daemon gone): Down, its sessions taken over by n2, then forgotten.
            await blocking(n1.kill)
            await tab.has_text(n1_row, "Down", timeout=30)
            await blocking(wait_until, lambda: set(cluster.owners(n2).values()) == {"n2"},
                           timeout=cluster.lease_s * 4, message="n1's sessions taken over")
            await tab.click(f"{n1_row} button[data-action=forget]")
            await tab.click("dialog button.danger")
            await tab.has_text("#toasts", "n1 forgotten.", timeout=30)
            await tab.until(f"() => !document.querySelector('{n1_row}')", what="n1's row gone")
            assert [n["node"] for n in (await blocking(n2.client.get, "/api/cluster"))["nodes"]] == ["n2"]
            assert tab.errors == []


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_a_single_host_shows_no_cluster_link(workdir: Path, plain_daemon: Daemon) -> None:
    async with chromium(workdir / "browser") as browser:
        tab = await open_tab(browser, plain_daemon, "desktop", "/cluster")
        await sign_in(tab)
        await tab.has_text("main", "This daemon runs alone")
        await tab.click('a[href="/"][data-nav]')
        await tab.has_text("#total-sessions", "0")
        assert await tab.page.evaluate("() => document.querySelector('#nav-cluster').hidden")
        assert tab.errors == []
