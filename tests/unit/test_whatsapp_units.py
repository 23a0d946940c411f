"""The WhatsApp pieces that need no browser: recipients and texts, the message policy and bot,
the user agent and the boot spec (config keys: test_config.py; end to end: test_whatsapp*.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import shutil
import time
import typing
from pathlib import Path

import pytest

from supervisor import settings
from supervisor.errors import InvalidRequest
from supervisor.sessions import bootspec, messaging, profiles
from tests.support.workerproc import boot_args
from worker import protocol
from worker.drivers.base import OperationRefused
from worker.drivers.chatbot import BotInfo, MessagePolicy
from worker.drivers.pageops import queue_fields, send_options
from worker.drivers.scriptedpage import desktop_user_agent
from worker.spec import WhatsAppOptions, parse_boot


@pytest.mark.parametrize(("given", "expected"), [
    ("+244 929-782-402", "244929782402@c.us"),
    ("244929782402", "244929782402@c.us"),
    ("00244 (929) 782.402", "244929782402@c.us"),
    ("+55 11 99999-9999", "5511999999999@c.us"),
    ("5511999999999@c.us", "5511999999999@c.us"),
    ("5511999999999@s.whatsapp.net", "5511999999999@c.us"),
    ("120363000000000001@g.us", "120363000000000001@g.us"),
    ("5511999999999-1600000000@g.us", "5511999999999-1600000000@g.us"),
    ("123456789012345@lid", "123456789012345@lid"),
])
def test_recipients_in_any_common_spelling(given: str, expected: str) -> None:
    assert messaging.chat_id(given) == expected


@pytest.mark.parametrize("bad", ["", "abc", "+12", "0929782402", "1234567890123456", "+244 92x",
                                 "foo@c.us", "123@example.com", "@g.us", "٢٤٤٩٢٩٧٨٢٤٠٢", None, 42.0])
def test_bad_recipients_say_what_is_accepted(bad: object) -> None:
    with pytest.raises(InvalidRequest) as err:
        messaging.chat_id(bad)
    assert "phone number" in err.value.message or "chat id" in err.value.message


def test_texts() -> None:
    assert messaging.check_text("olá", 10) == "olá"
    for bad, why in (("", "empty"), ("  \n", "empty"), ("x" * 11, "at most 10"), (None, "string")):
        with pytest.raises(InvalidRequest, match=why):
            messaging.check_text(bad, 10)


def test_send_ids_and_queue_ids() -> None:
    # Ids as WhatsApp Web (3EB0 + 16 or 18 hex digits), Android (32) and iPhones (3A + 18) make them.
    for good in ["3EB0A1B2C3D4E5F6A7B8", "3EB089068216561CDEDD91", "A" * 32, "3AF1E2D3C4B5A6978877"]:
        assert send_options({"msg_id": good})["msg_id"] == good
    assert send_options({}) == {"reply_to": None, "mentions": []}  # none given: the page makes one
    for bad in ["3eb0a1b2c3d4e5f6", "3EB0_A1B2C3D4", "3EB0A1", "A" * 65, "3EB0 A1B2C3D4", "", 12345678, ["X"]]:
        with pytest.raises(OperationRefused, match="msg_id must be"):
            send_options({"msg_id": bad})
    assert queue_fields({"queue_id": 0}) == {"queue_id": 0} and queue_fields({}) == {}
    for bad_queue_id in [-1, True, "3", 1.5, 2**63]:
        with pytest.raises(OperationRefused, match="queue_id must be"):
            queue_fields({"queue_id": bad_queue_id})


def _msg(kind: str, body: str = "hi", from_me: bool = False) -> dict[str, object]:
    return {"kind": kind, "body": body, "from_me": from_me}


def _policy(**changes: object) -> MessagePolicy:
    return MessagePolicy(WhatsAppOptions.from_spec(_wa_spec(**changes)))  # type: ignore[arg-type]


def test_policy_filters_and_commands() -> None:
    policy = _policy(ignore_groups=True, ignore_status=True, ignore_newsletters=False,
                     commands=["ping", "info"], command_prefix="/")
    assert [k for k in ("private", "group", "status", "newsletter") if policy.wanted(_msg(k))] == \
        ["private", "newsletter"]
    assert policy.command(_msg("private", "/ping")) == "ping"
    assert policy.command(_msg("group", "/PING  now")) == "ping"
    assert policy.command(_msg("private", "/help")) is None  # not enabled
    assert policy.command(_msg("private", "!ping")) is None  # other prefix
    assert policy.command(_msg("private", "/ping", from_me=True)) is None
    assert policy.command(_msg("status", "/ping")) is None
    assert policy.answer("ping", BotInfo("s", "1", "v", time.monotonic())) == "pong"
    info = policy.answer("info", BotInfo("sales", "244929782402", "2.3000.1", time.monotonic() - 3725))
    assert "sales" in info and "+244929782402" in info and "2.3000.1" in info and "1h02m05s" in info
    helped = _policy(commands=["ping", "help"]).answer("help", BotInfo("s", "1", "v", 0.0))
    assert helped.splitlines() == ["Commands:", "!ping: answers pong", "!help: lists the commands"]


def test_desktop_user_agent_drops_the_headless_marker() -> None:
    ua = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "HeadlessChrome/156.0.8078.79 Safari/537.36")
    assert desktop_user_agent(ua) == ua.replace("HeadlessChrome/", "Chrome/")


def _wa_spec(**changes: object) -> dict[str, object]:
    return {**bootspec.whatsapp_spec(settings.WhatsAppConfig()), **changes}


def test_boot_spec_carries_and_checks_the_whatsapp_options(tmp_path: Path) -> None:
    args = boot_args(tmp_path, "s", "http://x/", whatsapp=_wa_spec())
    boot = parse_boot({"id": 1, "op": "boot", "args": args})
    assert boot.whatsapp is not None and boot.whatsapp == WhatsAppOptions.from_spec(args["whatsapp"])
    assert boot.whatsapp.qr_max_refreshes == 10 and boot.whatsapp.commands == ()
    assert parse_boot({"id": 1, "op": "boot", "args": boot_args(tmp_path, "s", "http://x/")}).whatsapp is None
    for bad in ({"qr_max_refreshes": True}, {"commands": [1]}, {"driver": None}):
        args = boot_args(tmp_path, "s", "http://x/", whatsapp=_wa_spec(**bad))
        with pytest.raises(Exception, match="whatsapp"):
            parse_boot({"id": 1, "op": "boot", "args": args})


def test_whatsapp_options_are_the_wire_spec_typed() -> None:
    """The worker's typed options have exactly the keys of protocol.WhatsAppSpec (one key set:
    WhatsAppOptions.from_spec reads the spec's keys, this keeps the fields equal to them)."""
    assert [f.name for f in dataclasses.fields(WhatsAppOptions)] == list(typing.get_type_hints(protocol.WhatsAppSpec))


def test_profile_removal_is_retried_while_files_are_busy(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    real_rmtree, calls = shutil.rmtree, []

    def busy_twice(path: Path) -> None:
        calls.append(path)
        if len(calls) <= 2:
            raise OSError(errno.EBUSY, "Device or resource busy", str(path))
        real_rmtree(path)

    monkeypatch.setattr(profiles.shutil, "rmtree", busy_twice)
    asyncio.run(profiles.remove_tree(profile, first_delay_s=0.01))
    assert len(calls) == 3 and not profile.exists()
    calls.clear()
    with pytest.raises(OSError):
        asyncio.run(profiles.remove_tree(tmp_path, attempts=2, first_delay_s=0.01))
    asyncio.run(profiles.remove_tree(tmp_path / "gone"))  # already gone: fine
