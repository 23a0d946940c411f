"""Reactions, read receipts, chat states, revokes and edits; number checks, chats, history,
contacts, pictures and groups: end to end on both WhatsApp Web builds the simulator models.
Real daemon, workers and Chrome; the simulator plays the phone and WhatsApp's servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from supervisor.errors import Conflict, InvalidRequest, NotFound
from tests.support.daemon import Daemon
from tests.support.procs import wait_until
from tests.support.wa import (
    CHAT,
    CONTACT,
    NOBODY,
    PHONE_A,
    fast_simulator,
    login,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome

GROUP = "120363000000000007@g.us"
MEMBER, HIDDEN, JOINER = "5511900000001", "5511900000002", "5511900000003"


@pytest.fixture
def sim(sim_each_build: RunningSimulator) -> RunningSimulator:
    return sim_each_build


def _event(d: Daemon, name: str, match: dict[str, Any]) -> dict[str, Any]:
    """The payload of the first ``name`` event of session a whose fields include ``match``."""
    def wanted(e: dict[str, Any]) -> bool:
        return e["event"] == name and all(e["payload"].get(k) == v for k, v in match.items())
    return [e for e in wait_event(d, wanted, session="a") if wanted(e)][-1]["payload"]


def _incoming(d: Daemon, sim: RunningSimulator, text: str) -> dict[str, Any]:
    sim.incoming(CHAT, text, phone=PHONE_A)
    return _event(d, "message", {"body": text})


def test_reactions_read_presence_revoke_edit(workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        hello = _incoming(d, sim, "hello")
        chat = hello["chat_id"]  # 2026: the contact's LID chat

        # Reactions, ours and theirs.
        d.client.request("PUT", f"/api/sessions/a/messages/{hello['id']}/reaction", {"emoji": "👍"})
        d.client.request("PUT", f"/api/sessions/a/messages/{hello['id']}/reaction", {"emoji": ""})
        assert [(a["id"], a["emoji"]) for a in sim.activity(phone=PHONE_A, kind="reaction")] == [
            (hello["id"], "👍"), (hello["id"], "")]
        mine = d.client.post("/api/sessions/a/messages", {"to": CHAT, "text": "hi!"})
        sim.control("reaction", phone=PHONE_A, message_id=mine["id"], emoji="❤️")
        reaction = _event(d, "message.reaction", {"message_id": mine["id"]})
        assert (reaction["emoji"], reaction["sender_id"], reaction["sender_phone"]) == ("❤️", chat, CONTACT)

        # Read: the unread count goes to 0 and WhatsApp is told.
        assert d.client.get("/api/sessions/a/chats")["chats"][0]["unread"] == 1
        assert d.client.post(f"/api/sessions/a/chats/{CHAT}/read")["unread"] == 1
        assert sim.activity(phone=PHONE_A, kind="seen")[-1]["chat"] == chat
        assert d.client.get("/api/sessions/a/chats")["chats"][0]["unread"] == 0

        # Typing for a while, then paused by itself; recording; paused at once.
        d.client.post(f"/api/sessions/a/chats/{CHAT}/presence", {"state": "typing", "duration_s": 0.3})
        wait_until(lambda: [a["state"] for a in sim.activity(phone=PHONE_A, kind="chatstate")]
                   == ["composing", "paused"], timeout=10, message="typing, then paused")
        d.client.post(f"/api/sessions/a/chats/{CHAT}/presence", {"state": "recording", "duration_s": 30})
        d.client.post(f"/api/sessions/a/chats/{CHAT}/presence", {"state": "paused"})
        assert [a["state"] for a in sim.activity(phone=PHONE_A, kind="chatstate")][2:] == ["recording", "paused"]
        with pytest.raises(InvalidRequest, match="'state' must be one of typing, recording, paused"):
            d.client.post(f"/api/sessions/a/chats/{CHAT}/presence", {"state": "dancing"})

        # Edits and revokes from the phone; our own revoke.
        sim.control("edit", phone=PHONE_A, message_id=hello["id"], body="hello, edited")
        edited = _event(d, "message.edited", {"id": hello["id"]})
        assert (edited["body"], edited["previous_body"]) == ("hello, edited", "hello")
        sim.control("revoke", phone=PHONE_A, message_id=hello["id"])
        assert _event(d, "message.revoked", {"id": hello["id"]})["from_me"] is False
        assert d.client.delete(f"/api/sessions/a/messages/{mine['id']}")["revoked"] is True
        assert sim.activity(phone=PHONE_A, kind="revoke")[-1]["id"] == mine["id"]
        assert _event(d, "message.revoked", {"id": mine["id"]})["from_me"] is True
        with pytest.raises(Conflict, match="not ours"):
            d.client.delete(f"/api/sessions/a/messages/{hello['id']}")

        # Unknown messages and chats: a 404 naming them.
        unknown = f"false_{CHAT}_0BADC0DE0BADC0DE"
        with pytest.raises(NotFound, match=f"no message {unknown}"):
            d.client.request("PUT", f"/api/sessions/a/messages/{unknown}/reaction", {"emoji": "👍"})
        with pytest.raises(NotFound, match=f"no message {unknown}"):
            d.client.delete(f"/api/sessions/a/messages/{unknown}")
        with pytest.raises(NotFound, match=f"no chat with {NOBODY}@c.us"):
            d.client.post(f"/api/sessions/a/chats/{NOBODY}@c.us/read")


def test_numbers_chats_history_contacts_groups(workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    new = sim.config()["build"] == "2026"
    sim.config(not_on_whatsapp=[NOBODY])
    d = wa_daemon(workdir, free_port, sim, media={"check_interval_s": 0.3})
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)

        # Number checks: one, then a paced batch.
        found = d.client.get(f"/api/sessions/a/contacts/check?phone=%2B{CONTACT}")
        assert (found["phone"], found["on_whatsapp"], found["chat_id"]) == (CONTACT, True, CHAT)
        assert found["lid"] == (sim.lid(CONTACT)["lid"] if new else None)
        assert d.client.get(f"/api/sessions/a/contacts/check?phone={NOBODY}")["on_whatsapp"] is False
        batch = d.client.get(f"/api/sessions/a/contacts/check?phones={CONTACT},{NOBODY},{MEMBER}")
        assert [r["on_whatsapp"] for r in batch["results"]] == [True, False, True]
        asked = [a["at"] for a in sim.activity(phone=PHONE_A, kind="query")][-3:]
        assert all(later - earlier >= 0.25 for earlier, later in zip(asked, asked[1:]))  # paced
        with pytest.raises(InvalidRequest, match="not a phone number"):
            d.client.get("/api/sessions/a/contacts/check?phone=abc")

        # A chat with history on the server: pages of 3, oldest first, back to the start.
        first = _incoming(d, sim, "latest")
        seeded = sim.control("history", phone=PHONE_A, chat=CHAT,
                             messages=[{"body": f"old {i}", "from_me": i % 2 == 0} for i in range(7)])
        pages, before = [], None
        while True:
            query = f"?limit=3{'&before=' + before if before else ''}"
            page = d.client.get(f"/api/sessions/a/chats/{CHAT}/messages{query}")
            pages.append([m["body"] for m in page["messages"]])
            before = page["next_before"]
            if before is None:
                break
        assert pages == [["old 5", "old 6", "latest"], ["old 2", "old 3", "old 4"], ["old 0", "old 1"]]
        assert len(seeded["ids"]) == 7
        with pytest.raises(NotFound):
            d.client.get(f"/api/sessions/a/chats/{CHAT}/messages?before=false_{CHAT}_0000000000000000")

        chats = d.client.get("/api/sessions/a/chats")["chats"]
        assert [(c["id"], c["kind"]) for c in chats] == [(first["chat_id"], "private")]
        contacts = d.client.get("/api/sessions/a/contacts")["contacts"]
        assert [(c["phone"], c["lid"]) for c in contacts] == [
            (CONTACT, sim.lid(CONTACT)["lid"] if new else None)]
        picture = d.client.get(f"/api/sessions/a/contacts/{CHAT}/picture")
        assert picture["url"].startswith("https://pps.whatsapp.net/")
        assert d.client.get(f"/api/sessions/a/contacts/{NOBODY}@c.us/picture")["url"] is None

        # Groups, participants (phones where WhatsApp shares them), joins and leaves.
        sim.control("group", phone=PHONE_A, id=GROUP, subject="Vendas",
                    participants=[MEMBER, PHONE_A, {"phone": HIDDEN, "share_phone": False}])
        assert [(g["id"], g["name"], g["size"]) for g in d.client.get("/api/sessions/a/groups")["groups"]] == [
            (GROUP, "Vendas", 3)]
        info = d.client.get(f"/api/sessions/a/groups/{GROUP}")
        phones = [(p["phone"], p["admin"]) for p in info["participants"]]
        # LID groups (2026) hide the number of a member who does not share it.
        assert phones == [(MEMBER, "superadmin"), (PHONE_A, None), (None if new else HIDDEN, None)]
        assert info["lid_addressing"] is new and info["name"] == "Vendas"
        assert d.client.get(f"/api/sessions/a/groups/{GROUP}/picture")["url"].startswith("https://")
        sim.control("group-event", phone=PHONE_A, group_id=GROUP, subtype="add", participants=[JOINER],
                    author=MEMBER)
        joined = _event(d, "group.join", {"group_id": GROUP})
        assert (joined["phones"], joined["how"]) == ([JOINER], "add")
        sim.control("group-event", phone=PHONE_A, group_id=GROUP, subtype="leave", participants=[MEMBER])
        left = _event(d, "group.leave", {"group_id": GROUP})
        assert (left["phones"], left["how"]) == ([MEMBER], "leave")
        assert len(d.client.get(f"/api/sessions/a/groups/{GROUP}")["participants"]) == 3
        with pytest.raises(NotFound):
            d.client.get("/api/sessions/a/groups/120363000000000099@g.us")
        d.client.post("/api/sessions/a/stop")
        with pytest.raises(Conflict, match="STOPPED"):
            d.client.get("/api/sessions/a/chats")


def test_every_route_needs_a_working_session(workdir: Path, free_port: int) -> None:
    with fast_simulator(ref_ttl_s=20.0) as sim:
        d = wa_daemon(workdir, free_port, sim)
        with serving(d):
            d.client.post("/api/sessions", {"id": "a", "start": False})
            mid = f"true_{CHAT}_3EB0AAAAAAAAAAAAAAAA"
            for method, path, body in [
                ("PUT", f"/messages/{mid}/reaction", {"emoji": "👍"}), ("DELETE", f"/messages/{mid}", None),
                ("GET", "/chats", None), ("GET", f"/chats/{CHAT}/messages", None),
                ("POST", f"/chats/{CHAT}/read", {}), ("POST", f"/chats/{CHAT}/presence", {"state": "typing"}),
                ("GET", "/contacts", None), ("GET", f"/contacts/check?phone={CONTACT}", None),
                ("GET", f"/contacts/{CHAT}/picture", None), ("GET", "/groups", None),
                ("GET", f"/groups/{GROUP}", None), ("GET", f"/messages/{mid}/media", None),
            ]:
                with pytest.raises(Conflict, match="is STOPPED"):
                    d.client.request(method, f"/api/sessions/a{path}", body)
