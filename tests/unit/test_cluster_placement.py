"""Placement of a new session (supervisor/cluster/placement.py): a pure function of the nodes'
views, so no Redis here. Also what a node's view makes of the JSON it is built from."""

from __future__ import annotations

from typing import Any

import pytest

from supervisor.cluster.placement import choose_node
from supervisor.cluster.views import NodeView, SessionView, decode_json
from supervisor.errors import Conflict, InvalidRequest, TooManySessions


def node(name: str, sessions: int = 0, max_sessions: int = 10, memory_mb: float = 0.0,
         alive: bool = True, draining: bool = False) -> NodeView:
    info: dict[str, Any] = {"url": f"http://{name}:8083", "sessions": sessions,
                            "max_sessions": max_sessions, "memory_mb": memory_mb, "draining": draining}
    return NodeView(node=name, alive=alive, lease_ms=5000 if alive else 0, info=info)


def test_the_least_loaded_share_wins_not_the_fewest_sessions() -> None:
    # b runs more sessions than a but a smaller share of what it may run.
    nodes = [node("a", sessions=5, max_sessions=10), node("b", sessions=6, max_sessions=30)]
    assert choose_node(nodes).node == "b"


def test_memory_breaks_a_tie_then_the_node_id() -> None:
    nodes = [node("a", 2, memory_mb=900), node("b", 2, memory_mb=300), node("c", 2, memory_mb=300)]
    assert choose_node(nodes).node == "b"
    assert choose_node(list(reversed(nodes))).node == "b"


def test_dead_draining_and_full_nodes_are_passed_over() -> None:
    nodes = [node("dead", alive=False), node("drain", draining=True), node("full", 10, 10),
             node("busy", 9, 10)]
    assert choose_node(nodes).node == "busy"


def test_no_room_anywhere_says_why_for_each_node() -> None:
    nodes = [node("dead", alive=False), node("drain", draining=True), node("full", 10, 10)]
    with pytest.raises(TooManySessions) as info:
        choose_node(nodes)
    message = info.value.message
    assert "dead is not alive" in message and "drain is draining" in message
    assert "full is full (10 of 10 sessions)" in message
    assert info.value.status == 429
    with pytest.raises(TooManySessions, match="no node"):
        choose_node([])


def test_a_node_with_no_capacity_takes_nothing() -> None:
    with pytest.raises(TooManySessions):
        choose_node([node("zero", max_sessions=0)])


def test_pinned_forces_the_node_or_says_why_not() -> None:
    nodes = [node("a", 1), node("b", 8), node("dead", alive=False), node("drain", draining=True),
             node("full", 10, 10)]
    assert choose_node(nodes, pinned="b").node == "b"  # although a is less loaded
    with pytest.raises(Conflict, match="dead is not alive"):
        choose_node(nodes, pinned="dead")
    with pytest.raises(Conflict, match="drain is draining"):
        choose_node(nodes, pinned="drain")
    with pytest.raises(TooManySessions, match="full is full"):
        choose_node(nodes, pinned="full")
    with pytest.raises(InvalidRequest, match="no node 'nope'.*a, b, dead, drain, full"):
        choose_node(nodes, pinned="nope")


def test_a_view_survives_odd_entries() -> None:
    assert decode_json("not json") == {} and decode_json("[1]") == {} and decode_json(None) == {}
    odd = NodeView.parse("x", '{"sessions": "3", "max_sessions": true, "draining": "yes"}', -2, 100.0)
    assert not odd.alive and odd.sessions == 0 and odd.max_sessions == 0 and not odd.draining
    fresh = NodeView.parse("y", '{"renewed_at": 98.5, "sessions": 2, "max_sessions": 4}', 1500, 100.0)
    assert fresh.alive and fresh.lease_ms == 1500 and fresh.age_s == 1.5 and fresh.has_room
    assert fresh.to_dict()["node"] == "y" and fresh.to_dict()["alive"] is True
    assert SessionView("s", "y", 3, {"desired": "running"}).desired == "running"


def tagged(name: str, *tags: Any, sessions: int = 0) -> NodeView:
    view = node(name, sessions)
    return NodeView(node=name, alive=True, lease_ms=5000, info={**view.info, "tags": list(tags)})


def test_a_session_asking_for_tags_goes_only_where_they_all_are() -> None:
    nodes = [tagged("a"), tagged("b", "br", sessions=3), tagged("c", "br", "sales", sessions=5)]
    assert choose_node(nodes).node == "a"
    assert choose_node(nodes, tags=frozenset({"br"})).node == "b"
    assert choose_node(nodes, tags=frozenset({"br", "sales"})).node == "c"
    with pytest.raises(TooManySessions, match="a lacks the tag.s. br, sales; b lacks the tag.s. sales"):
        choose_node(nodes[:2], tags=frozenset({"br", "sales"}))
    with pytest.raises(Conflict, match="node a lacks the tag.s. br"):
        choose_node(nodes, pinned="a", tags=frozenset({"br"}))
    assert choose_node(nodes, pinned="c", tags=frozenset({"sales"})).node == "c"


def test_tags_are_read_from_a_list_only() -> None:
    assert tagged("a", "x", "y").tags == {"x", "y"}
    assert NodeView(node="a", alive=True, info={"tags": {}}).tags == frozenset()  # cjson's []
    assert NodeView(node="a", alive=True, info={}).tags == frozenset()
