"""The ``node_tags`` session option (supervisor/sessions/options.py): tag names as a node's,
sorted without repeats; none for an empty list; a clear 400 naming the rule otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from supervisor.errors import InvalidRequest
from supervisor.sessions import options


def test_node_tags_are_sorted_without_repeats_and_empty_means_none() -> None:
    assert options.parse_changes({"node_tags": ["sales", "br", "br"]}) == {"node_tags": ["br", "sales"]}
    assert options.parse_changes({"node_tags": []}) == {"node_tags": None}
    assert options.merged({"node_tags": ["br"]}, {"node_tags": None}) == {}
    assert options.shown({"node_tags": ["br"]})["node_tags"] == ["br"]


@pytest.mark.parametrize("bad", ["br", [1], ["has space"], ["-dash-first"], ["x" * 65], [f"t{i}" for i in range(17)]])
def test_bad_node_tags_are_refused_naming_the_rule(bad: Any) -> None:
    with pytest.raises(InvalidRequest, match="node_tags must be a list of at most 16 tags") as refused:
        options.parse_changes({"node_tags": bad})
    assert refused.value.status == 400
