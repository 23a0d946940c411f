"""Client JSON held to JSON (no NaN, no runaway nesting, no lone surrogates), a session's
metadata to its limits, and API keys to printable ASCII; metadata an older version stored
beyond the limits no longer breaks every listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor import config, jsonlimits
from supervisor.apikey import key_matches
from supervisor.errors import ConfigError
from supervisor.store import Store


@pytest.mark.parametrize(("text", "why"), [
    ('{"a": NaN}', "NaN"), ("[Infinity]", "Infinity"), ("-Infinity", "Infinity"),
    ("[" * 40 + "]" * 40, "deeper than 32"), ("[" * 100_000 + "]" * 100_000, "deeper"),
    ('{"\\ud800": 1}', "surrogate"), ('["\\udc00x"]', "surrogate"),
])
def test_not_json_or_not_storable_is_refused(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        jsonlimits.loads(text)


def test_json_within_the_limits_is_parsed() -> None:
    assert jsonlimits.loads(b'{"a": [1, 2.5, "\\u00e9\\ud83d\\ude00", null, true]}') == {
        "a": [1, 2.5, "é😀", None, True]}
    assert jsonlimits.loads("[" * 32 + "]" * 32) is not None


def test_metadata_limits() -> None:
    nested: dict[str, object] = {}
    level = nested
    for _ in range(7):  # 8 objects deep in all
        level["n"] = {}
        level = level["n"]  # type: ignore[assignment]
    assert jsonlimits.metadata_problem(nested) is None
    assert "deeper than 8" in str(jsonlimits.metadata_problem({"top": nested}))
    assert "16384" in str(jsonlimits.metadata_problem({"x": "y" * 16_400}))
    assert jsonlimits.metadata_problem([1]) == "must be a JSON object"
    assert jsonlimits.metadata_problem({"x": float("nan")}) is not None


def test_metadata_stored_beyond_the_limits_is_read_as_empty(tmp_path: Path) -> None:
    store = Store(tmp_path / "z.db")
    store.insert_session("deep", "stopped", {})
    store.insert_session("fine", "stopped", {"team": "sales"})
    deep = '{"x": ' + "[" * 970 + "]" * 970 + "}"  # an older version let it in: listings then failed
    with store.transaction() as db:
        db.execute("UPDATE sessions SET metadata = ? WHERE id = 'deep'", (deep,))
    records = {r.id: r.metadata for r in store.list_sessions()}
    assert records == {"deep": {}, "fine": {"team": "sales"}}
    store.close()


def test_api_keys_are_printable_ascii() -> None:
    assert key_matches("k3y", "k3y") and not key_matches("k3y", "k3z")
    for given in ("\udcff\udcfe", "clé", "", None):  # header bytes that are not UTF-8 arrive as surrogates
        assert not key_matches("k3y", given)
    for bad in ("clé", "two words", "tab\there"):
        with pytest.raises(ConfigError, match="api_key"):
            config.load(None, env={"ZAPVISOR_SERVER__API_KEY": bad})
