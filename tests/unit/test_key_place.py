"""Where the API key is, said for people (``dev.sh serve`` prints it after the install), never
the key itself."""

from __future__ import annotations

from pathlib import Path

from supervisor import config
from supervisor.apikey import describe_key, load_api_key


def test_each_kind_of_key_is_placed(tmp_path: Path) -> None:
    cfg = config.load(None, env={}).replace("state", dir=str(tmp_path / "var"))
    generated = tmp_path / "var" / "api_key"
    assert describe_key(cfg) == (f"{generated} (0600, written at the daemon's first start): "
                                 f"KEY=$(cat {generated})")
    generated.parent.mkdir()
    key, _ = load_api_key(cfg, create=True)
    assert describe_key(cfg) == f"{generated} (0600): KEY=$(cat {generated})" and key not in describe_key(cfg)
    in_file = cfg.replace("server", api_key_file=str(tmp_path / "k"))
    assert describe_key(in_file) == f"{tmp_path / 'k'} ([server] api_key_file)"
    inline = cfg.replace("server", api_key="s3cret-value")
    assert describe_key(inline) == "[server] api_key in defaults" and "s3cret" not in describe_key(inline)
