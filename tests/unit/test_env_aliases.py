"""zapnode's .env names as aliases of zapvisor's keys (supervisor/envvars.py), through
``config.load(path, env=...)``: what each sets, and a disagreement with ZAPVISOR_* refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor import config
from supervisor.envvars import ALIASES
from supervisor.errors import ConfigError

ZAPNODE_ENV = {
    "PORT": "3000",
    "SESSION_NAME": "principal",
    "START_DEFAULT_SESSION": "true",
    "AUTO_CLEANUP_ON_LOGOUT": "false",
    "CHROME_PATH": "/usr/bin/google-chrome",
    "HEADLESS": "false",
    "IGNORE_GROUPS": "true",
    "IGNORE_STATUS": "false",
    "IGNORE_NEWSLETTERS": "false",
    "WEBHOOK_ENABLED": "false",
}


def test_a_zapnode_env_sets_the_keys_it_names(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[webhooks]\nurl = "https://hooks.example.com/in"\n[server]\nport = 8083\n')
    cfg = config.load(path, env=ZAPNODE_ENV)
    assert cfg.server.port == 3000  # the environment wins over the file, as ZAPVISOR_* does
    assert cfg.sessions.default_session == "principal"
    assert cfg.sessions.start_default_session is True
    assert cfg.sessions.auto_cleanup_on_logout is False
    assert cfg.chrome.executable == "/usr/bin/google-chrome" and cfg.chrome.headless is False
    assert (cfg.whatsapp.ignore_groups, cfg.whatsapp.ignore_status,
            cfg.whatsapp.ignore_newsletters) == (True, False, False)
    assert cfg.webhooks.url == ""  # WEBHOOK_ENABLED=false: no global webhook
    assert cfg.env_aliases == tuple(sorted(ZAPNODE_ENV))  # the daemon logs which it used


def test_every_documented_name_is_an_alias() -> None:
    assert {a.name for a in ALIASES} == set(ZAPNODE_ENV)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for alias in ALIASES:
        assert f"`{alias.name}`" in readme, alias.name


@pytest.mark.parametrize(("env", "section", "key", "value"), [
    ({"HEADLESS": "new"}, "chrome", "headless", True),  # puppeteer's spelling
    ({"HEADLESS": "0"}, "chrome", "headless", False),
    ({"WEBHOOK_ENABLED": "true"}, "webhooks", "url", "https://hooks.example.com/in"),
    ({"PORT": ""}, "server", "port", 8083),  # blank counts as unset
    ({"PORT": "3000", "ZAPVISOR_SERVER__PORT": "3000"}, "server", "port", 3000),  # agree
    ({"HEADLESS": "yes", "ZAPVISOR_CHROME__HEADLESS": "true"}, "chrome", "headless", True),
    ({"WEBHOOK_ENABLED": "false", "ZAPVISOR_WEBHOOKS__URL": ""}, "webhooks", "url", ""),
])
def test_alias_values(tmp_path: Path, env: dict[str, str], section: str, key: str,
                      value: object) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[webhooks]\nurl = "https://hooks.example.com/in"\n')
    assert getattr(getattr(config.load(path, env=env), section), key) == value


@pytest.mark.parametrize(("env", "needles"), [
    ({"PORT": "3000", "ZAPVISOR_SERVER__PORT": "9000"},
     ["PORT='3000'", "ZAPVISOR_SERVER__PORT='9000'", "[server] port"]),
    ({"HEADLESS": "false", "ZAPVISOR_CHROME__HEADLESS": "true"},
     ["HEADLESS", "ZAPVISOR_CHROME__HEADLESS"]),
    ({"SESSION_NAME": "a", "ZAPVISOR_SESSIONS__DEFAULT_SESSION": "b"},
     ["SESSION_NAME", "ZAPVISOR_SESSIONS__DEFAULT_SESSION"]),
    ({"WEBHOOK_ENABLED": "false", "ZAPVISOR_WEBHOOKS__URL": "https://x.example/h"},
     ["WEBHOOK_ENABLED", "ZAPVISOR_WEBHOOKS__URL"]),
    ({"PORT": "http"}, ["PORT (alias of [server] port) must be a number"]),
    ({"HEADLESS": "maybe"}, ["HEADLESS (alias of [chrome] headless) must be true or false"]),
    ({"IGNORE_GROUPS": "2"}, ["IGNORE_GROUPS"]),
    ({"PORT": "70000"}, ["[server] port in the environment (PORT) must be between"]),
    ({"SESSION_NAME": "../x"}, ["[sessions] default_session in the environment (SESSION_NAME)"]),
])
def test_bad_or_conflicting_aliases_are_refused_by_name(env: dict[str, str],
                                                       needles: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(None, env=env)
    for needle in needles:
        assert needle in info.value.message


def test_no_alias_no_change() -> None:
    assert config.load(None, env={"PATH": "/usr/bin"}) == config.load(None, env={})
    assert config.load(None, env={}).env_aliases == ()
