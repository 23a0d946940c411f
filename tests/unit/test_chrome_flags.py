"""[chrome] lean and js_heap_max_mb: each name's flags, the merging of Chrome's list switches
with the user's extra_args, no-zygote only without the sandbox, the way to the worker and its
checks there (the config's own checks are in test_config)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supervisor import config
from supervisor.sessions.bootspec import boot_spec
from tests.support.workerproc import boot_args
from worker import protocol
from worker.browser.chrome import LaunchOptions, build_args
from worker.browser.flags import SERVER_FEATURES, lean_flags, merge_list_switches
from worker.errors import BadBootSpec
from worker.spec import parse_boot

SHELL = Path("/usr/lib/chromium/chromium-headless-shell")


def args(lean: tuple[str, ...] = (), extra: tuple[str, ...] = (), heap: int = 0) -> list[str]:
    return build_args(LaunchOptions(SHELL, "/p", "/t", True, "", extra, lean, heap))


def switch(argv: list[str], name: str) -> list[str]:
    """Every value of ``name`` on the command line."""
    return [arg.partition("=")[2] for arg in argv if arg.partition("=")[0] == name]


@pytest.mark.parametrize(("name", "expected"), [
    ("in-process-gpu", ["--in-process-gpu"]),
    ("network-service-in-process", ["--enable-features=NetworkServiceInProcess2"]),
    ("no-zygote", ["--no-zygote"]),
    ("optimize-for-size", ["--js-flags=--optimize-for-size"]),
    ("no-server-features", ["--disable-features=" + ",".join(SERVER_FEATURES)]),
])
def test_each_name_gives_its_flags(name: str, expected: list[str]) -> None:
    assert lean_flags([name], sandbox=False) == expected
    argv = args((name,), extra=("--no-sandbox",))
    assert all(flag in argv for flag in expected)
    assert argv.index(expected[0]) < argv.index("about:blank") == len(argv) - 1


def test_no_lean_is_chromes_own_command_line() -> None:
    argv = args()
    for flag in ("--in-process-gpu", "--no-zygote"):
        assert flag not in argv
    assert switch(argv, "--enable-features") == [] and switch(argv, "--js-flags") == []
    assert switch(argv, "--disable-blink-features") == ["AutomationControlled"]


def test_no_zygote_only_without_the_sandbox() -> None:
    assert lean_flags(["no-zygote", "in-process-gpu"], sandbox=True) == ["--in-process-gpu"]
    assert "--no-zygote" in args(("no-zygote",), extra=("--no-sandbox",))  # the user turned it off
    # Chrome runs as root only without its sandbox: build_args adds --no-sandbox itself then.
    assert ("--no-zygote" in args(("no-zygote",))) == (os.geteuid() == 0)


def test_heap_cap_and_optimize_for_size_share_one_js_flags() -> None:
    argv = args(("optimize-for-size",), extra=("--js-flags=--expose-gc",), heap=2048)
    assert switch(argv, "--js-flags") == ["--optimize-for-size --max-old-space-size=2048 --expose-gc"]
    assert switch(args(heap=0), "--js-flags") == []


def test_feature_lists_merge_with_extra_args_into_one_switch_each() -> None:
    extra = ("--enable-features=Foo:p/1", "--lang=pt-PT", "--disable-features=Bar",
             "--disable-blink-features=Baz", "--enable-features=Foo2")
    argv = args(tuple(protocol.CHROME_LEAN_DEFAULT), extra)
    assert switch(argv, "--enable-features") == ["NetworkServiceInProcess2,Foo:p/1,Foo2"]
    assert switch(argv, "--disable-features") == [",".join([*SERVER_FEATURES, "Bar"])]
    assert switch(argv, "--disable-blink-features") == ["AutomationControlled,Baz"]
    assert "--lang=pt-PT" in argv and argv[-1] == "about:blank"


def test_the_user_names_a_feature_last_and_wins() -> None:
    # extra_args come after the lean flags: re-enabling one of the server features wins,
    # and so does disabling the in-process network service.
    argv = args(tuple(protocol.CHROME_LEAN_DEFAULT),
                ("--enable-features=BackForwardCache", "--disable-features=NetworkServiceInProcess2"))
    assert switch(argv, "--enable-features") == ["BackForwardCache"]
    disabled = switch(argv, "--disable-features")[0].split(",")
    assert "BackForwardCache" not in disabled and "NetworkServiceInProcess2" in disabled


def test_merge_keeps_order_drops_duplicates_and_empty_lists() -> None:
    assert merge_list_switches(["x", "--enable-features=A,B", "--enable-features=", "y",
                                "--enable-features=A", "--disable-features=A"]) == [
        "x", "--enable-features=B", "y", "--disable-features=A"]
    assert merge_list_switches(["--enable-features=A", "--disable-features=A"]) == ["--disable-features=A"]
    assert merge_list_switches(["--enable-featuresX=A", "--js-flags"]) == ["--enable-featuresX=A", "--js-flags"]


def test_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="single-process"):
        lean_flags(["single-process"], sandbox=False)


def test_config_reaches_the_boot_spec(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[chrome]\nlean = ["in-process-gpu"]\njs_heap_max_mb = 4096\n')
    spec = boot_spec(config.load(path, env={}), "s1", "/p", "/t")
    assert spec["chrome_lean"] == ["in-process-gpu"] and spec["chrome_js_heap_max_mb"] == 4096
    default = boot_spec(config.load(None, env={}), "s1", "/p", "/t")
    assert default["chrome_lean"] == list(protocol.CHROME_LEAN_DEFAULT)
    assert default["chrome_js_heap_max_mb"] == 0


@pytest.mark.parametrize(("key", "value"), [
    ("chrome_lean", ["single-process"]), ("chrome_lean", "no-zygote"), ("chrome_lean", None),
    ("chrome_js_heap_max_mb", -1), ("chrome_js_heap_max_mb", True), ("chrome_js_heap_max_mb", 1.5),
])
def test_worker_refuses_a_bad_boot_spec_naming_the_key(tmp_path: Path, key: str, value: object) -> None:
    good = boot_args(tmp_path, "s", "http://x/")
    assert parse_boot({"id": 1, "op": "boot", "args": good}).spec["chrome_lean"] == list(protocol.CHROME_LEAN_DEFAULT)
    with pytest.raises(BadBootSpec, match=key):
        parse_boot({"id": 1, "op": "boot", "args": {**good, key: value}})
