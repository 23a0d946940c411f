"""The 2026 build of the WhatsApp Web simulator, driven the way whatsapp-web.js/wa-js drive the real
page: modelled facts of research/whatsapp-anchors.md §10 (sources cited in tests/wasim/static/
build2026.js and lid.js). Chrome touches only window.Debug and window.require(...); the /_sim
controls play the phone and WhatsApp's servers. Every wait has a deadline; no sleeps."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_wasim import chrome, first_page, profile_dir, until
from tests.wasim import RunningSimulator, SimError, run_simulator
from tests.wasim.__main__ import parse_args

PHONE, CONTACT = "244929782402", "5511999990001"
LID_GROUP, PN_GROUP = "120363000000000001@g.us", "120363000000000002@g.us"
LATE = ["WAWebCollections", "WAWebSendMsgChatAction", "WAWebFindChatAction", "WAWebApiContact",
        "WAWebQueryExistsJob", "WAWebMsgKey", "WAWebUserPrefsMeUser"]

# Run before the page's scripts: which late modules resolve when Debug.VERSION appears.
AT_VERSION = "() => { const late = " + json.dumps(LATE) + """; const probe = () => {
  if (!(window.Debug && window.Debug.VERSION)) { setTimeout(probe, 5); return; }
  window.__atVersion = late.filter((n) => { try { return !!window.require(n); } catch (e) { return false; } });
}; probe(); }"""

# What a driver installs as soon as Debug.VERSION is there: boot modules only.
EARLY = """() => {
  const R = window.require, S = R('WAWebSocketModel').Socket, Cmd = R('WAWebCmd').Cmd;
  const rec = window.__rec = {refs: [], synced: [], progress: [], offline: [], linkRefresh: 0, adds: [], acks: []};
  const Offline = R('WAWebOfflineHandler').OfflineMessageHandler;
  S.on('change:hasSynced', (_m, v) => rec.synced.push([v, Date.now()]));
  R('WAWebConnModel').Conn.on('change:ref', (_m, ref) => rec.refs.push(ref));
  Cmd.on('offline_progress_update_from_bridge', (p) => { rec.progress.push(p); rec.offline.push(Offline.getOfflineDeliveryProgress()); });
  R('WAWebLinkDeviceEvents').WAWebLinkDeviceEvents.on('link_device_events:refresh_alt_linking_code', () => { rec.linkRefresh++; });
  return S.state;
}"""

LATE_READY = "() => { try { return !!window.require('WAWebCollections'); } catch (e) { return false; } }"

# ...and once the late modules registered: message listeners, ids read with String(key).
LATE_LISTENERS = """() => {
  const Msg = window.require('WAWebCollections').Msg, rec = window.__rec;
  Msg.on('add', (m) => rec.adds.push({key: String(m.id), data: m.serialize()}));
  Msg.on('change:ack', (m, ack) => rec.acks.push([String(m.id), ack]));
}"""

# The QR as whatsapp-web.js builds it in 2026 (ADV secret from WAWebUserPrefsMultiDevice).
BUILD_QR = """async () => {
  const R = window.require, B = R('WABase64');
  const reg = await R('WAWebSignalStoreApi').waSignalStore.getRegistrationInfo();
  const noise = await R('WAWebUserPrefsInfoStore').waNoiseInfo.get();
  return [R('WAWebConnModel').Conn.ref, B.encodeB64(noise.staticKeyPair.pubKey),
          B.encodeB64(reg.identityKeyPair.pubKey), R('WAWebUserPrefsMultiDevice').getADVSecretKey(),
          R('WAWebCompanionRegClientUtils').DEVICE_PLATFORM].join(',');
}"""

# wwebjs enforceLidAndPnRetrieval, with what each step gives.
RESOLVE = """async (pn) => {
  const R = window.require, C = R('WAWebApiContact'), wid = R('WAWebWidFactory').createWid(pn);
  const before = C.getCurrentLid(wid), find = await R('WAWebFindChatAction').findOrCreateLatestChat(wid).then(() => 'ok', (e) => e.message);
  const found = await R('WAWebQueryExistsJob').queryWidExists(wid), lid = C.getCurrentLid(wid);
  return {before: before && String(before), find, exists: found ? String(found.wid) : null,
          lid: lid && String(lid), phone: lid ? String(C.getPhoneNumber(lid)) : null};
}"""

# A send like wwebjs/wa-js 2026; mode 'auto' picks `from` by the chat's addressing,
# 'pn' forces our phone number (the pre-LID mistake).
SEND = """async (to, body, mode) => {
  const R = window.require, U = R('WAWebUserPrefsMeUser'), Msg = R('WAWebCollections').Msg;
  const wid = R('WAWebWidFactory').createWid(to), Chats = R('WAWebCollections').Chat;
  const chat = Chats.get(wid) || (await R('WAWebFindChatAction').findOrCreateLatestChat(wid)).chat;
  const lidMode = chat.id.isGroup() ? !!(chat.groupMetadata && chat.groupMetadata.isLidAddressingMode)
                                    : chat.id.isLid();
  const from = mode === 'pn' || !lidMode ? U.getMaybeMePnUser() : U.getMaybeMeLidUser();
  const MsgKey = R('WAWebMsgKey'), newId = MsgKey.newId();
  const key = new MsgKey({from, to: chat.id, id: await newId,
                          participant: chat.id.isGroup() ? from : undefined, selfDir: 'out'});
  const [msgPromise, sendPromise] = R('WAWebSendMsgChatAction').addAndSendMsgToChat(chat, {id: key, ack: 0,
    body, from, to: chat.id, local: true, self: 'out', t: Math.floor(Date.now() / 1000), isNewMsg: true, type: 'chat'});
  await msgPromise;
  return {key: String(key), json: JSON.stringify(key), hasSerialized: '_serialized' in key,
          newIdIsPromise: newId instanceof Promise, sameByKey: Msg.get(key) === Msg.get(String(key)),
          chat: String(chat.id), from: String(from), result: await sendPromise,
          serialized: Msg.get(key).serialize(), groupMetadata: chat.serialize().groupMetadata || null};
}"""


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with run_simulator(build="2026", ref_ttl_s=5, boot_ms=200, open_ms=50, sync_ms=150,
                       first_sync_ms=600, sync_steps=6, late_modules_ms=600, ack_delay_ms=50,
                       pn_groups=[PN_GROUP]) as running:  # every other group is LID-addressed
        yield running


def status_of(call: Any, *args: Any, **kwargs: Any) -> int:
    """The HTTP status of a /_sim control that must fail."""
    with pytest.raises(SimError) as err:
        call(*args, **kwargs)
    return err.value.status


REQUIRE = "(n) => { try { window.require(n); return 'ok'; } catch (e) { return e.message; } }"


async def open_page(page: Any, url: str) -> None:
    """Load the page; early listeners once Debug.VERSION is there, the rest once late modules are."""
    await page.goto(url, {"waitUntil": "load"})
    await until(page, "() => window.Debug && window.Debug.VERSION")
    await page.evaluate(EARLY)
    await until(page, LATE_READY)
    await page.evaluate(LATE_LISTENERS)


async def pair_qr(page: Any, sim: RunningSimulator) -> float:
    """Scan the QR with PHONE; wait until synced; the sync's duration (page clock, ms)."""
    started = await until(page, "() => window.require('WAWebSocketModel').Socket.state === "
                                "'UNPAIRED' && Date.now()")
    sim.scan(qr=await page.evaluate(BUILD_QR), phone=PHONE, pushname="Tester")
    await until(page, "() => window.__rec.synced.length > 0", timeout=10)
    return float((await page.evaluate("() => window.__rec.synced[0][1]")) - started)


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_modules_register_gradually_and_missing_ones_never(
        sim: RunningSimulator, tmp_path: Path) -> None:
    async with chrome(profile_dir(tmp_path)) as browser:
        page = await first_page(browser)
        await page.evaluateOnNewDocument(AT_VERSION)
        await page.goto(sim.url, {"waitUntil": "load"})
        assert await until(page, "() => window.Debug && window.Debug.VERSION") == "2.3000.1046379654"
        assert await until(page, "() => window.__atVersion && {late: window.__atVersion}") == {"late": []}
        assert await page.evaluate(EARLY) in ("OPENING", "UNPAIRED")  # boot modules are there
        assert await page.evaluate(REQUIRE, "NoSuch") == 'Requiring unknown module "NoSuch"'
        await until(page, LATE_READY)
        assert [await page.evaluate(REQUIRE, name) for name in LATE] == ["ok"] * len(LATE)
        registered = await page.evaluate("() => Object.keys(window.require('__debug').modulesMap)")
        assert set(LATE) <= set(registered) and "WAWebSocketModel" in registered

        # A build that removed a function, and one that dropped a module.
        sim.config(missing=["WAWebFindChatAction.findOrCreateLatestChat", "WAWebQueryExistsJob"])
        await page.goto(sim.url, {"waitUntil": "load"})
        await until(page, LATE_READY)
        assert await page.evaluate(
            "() => typeof window.require('WAWebFindChatAction').findOrCreateLatestChat") == "undefined"
        assert [await page.evaluate(REQUIRE, n) for n in ("WAWebQueryExistsJob", "WAWebApiContact")] \
            == ['Requiring unknown module "WAWebQueryExistsJob"', "ok"]


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_slow_first_sync_lids_and_addressing(sim: RunningSimulator, tmp_path: Path) -> None:
    sim.config(not_on_whatsapp=["5511000000000"])
    async with chrome(profile_dir(tmp_path)) as browser:
        page = await first_page(browser)
        await open_page(page, sim.url)
        took = await pair_qr(page, sim)
        rec = await page.evaluate("() => window.__rec")
        assert rec["progress"] == [0, 17, 33, 50, 67, 83, 100] == rec["offline"]
        assert took >= 600 and rec["synced"][0][0] is True  # first_sync_ms, not sync_ms
        me = await page.evaluate("""() => { const U = window.require('WAWebUserPrefsMeUser');
            return [String(U.getMaybeMePnUser()), String(U.getMaybeMeLidUser())]; }""")
        assert me == [f"{PHONE}@c.us", sim.lid(PHONE)["lid"]]
        my_lid = me[1]

        # No LID yet -> "No LID for user"; queryWidExists learns it; not on WhatsApp -> null.
        contact_lid = sim.lid(CONTACT)["lid"]
        assert await page.evaluate(RESOLVE, f"{CONTACT}@c.us") == {"before": None, "find": "No LID for user",
            "exists": f"{CONTACT}@c.us", "lid": contact_lid, "phone": f"{CONTACT}@c.us"}
        assert await page.evaluate(RESOLVE, "5511000000000@c.us") == {
            "before": None, "find": "No LID for user", "exists": None, "lid": None, "phone": None}
        assert sim.lid("5511000000000")["on_whatsapp"] is False

        # The 1:1 chat is the LID chat; from = our LID is delivered, the key has no _serialized.
        ok = await page.evaluate(SEND, f"{CONTACT}@c.us", "olá", "auto")
        assert (ok["chat"], ok["from"], ok["result"]) == (contact_lid, my_lid, {"messageSendResult": "OK"})
        assert ok["newIdIsPromise"] and not ok["hasSerialized"] and ok["sameByKey"]
        assert ok["key"] == f"true_{contact_lid}_{ok['serialized']['id']['id']}"
        as_json = json.loads(ok["json"])  # what JSON.stringify(key) gives: the fields, $1 too
        assert as_json["$1"] == ok["key"] and "_serialized" not in as_json and as_json["fromMe"]
        assert ok["serialized"]["id"]["$1"] == ok["key"] and "_serialized" not in ok["serialized"]["id"]
        wrong = await page.evaluate(SEND, contact_lid, "from my number", "pn")
        log = {m["id"]: m for m in sim.sent(phone=PHONE)}
        assert log[ok["key"]]["delivered"] is True and log[ok["key"]]["from"] == my_lid
        assert log[wrong["key"]]["delivered"] is False and log[ok["key"]]["to"] == contact_lid

        # Groups: LID-addressed unless declared otherwise; participant = from.
        bad = await page.evaluate(SEND, LID_GROUP, "wrong from", "pn")
        good = await page.evaluate(SEND, LID_GROUP, "right from", "auto")
        legacy = await page.evaluate(SEND, PN_GROUP, "old group", "auto")
        assert good["groupMetadata"]["isLidAddressingMode"] is True and good["from"] == my_lid
        assert legacy["groupMetadata"]["isLidAddressingMode"] is False and legacy["from"] == me[0]
        log = {m["id"]: m for m in sim.sent(phone=PHONE)}
        assert [log[x["key"]]["delivered"] for x in (bad, good, legacy)] == [False, True, True]
        assert log[good["key"]]["participant"] == my_lid and "does not match" in log[bad["key"]]["reason"]

        # Acks use the key's string; an undelivered message stops at 1 (one tick).
        acked = "(ids) => ids.every((id) => window.__rec.acks.some(([i, a]) => i === id && a === 1))"
        await until(page, acked, [ok["key"], bad["key"], good["key"]])
        assert sim.ack(good["key"], 3) == {"id": good["key"], "ack": 3}
        assert status_of(sim.ack, bad["key"], 2) == 409
        assert [a for i, a in await page.evaluate("() => window.__rec.acks") if i == bad["key"]] == [1]


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_incoming_from_lid_chats_and_media(sim: RunningSimulator, tmp_path: Path) -> None:
    async with chrome(profile_dir(tmp_path)) as browser:
        page = await first_page(browser)
        await open_page(page, sim.url)
        await pair_qr(page, sim)
        my_lid, contact_lid = sim.lid(PHONE)["lid"], sim.lid(CONTACT)["lid"]
        phone_of = """(id) => { const R = window.require, C = R('WAWebApiContact');
            return String(C.getPhoneNumber(R('WAWebWidFactory').createWid(id))); }"""

        # A 1:1 message named by phone number arrives from the LID chat; the page knows the phone.
        private = sim.incoming(f"{CONTACT}@c.us", "hi", phone=PHONE, pushname="Ana")
        assert private["from"] == contact_lid and private["to"] == my_lid
        assert await page.evaluate(phone_of, contact_lid) == f"{CONTACT}@c.us"
        other = sim.incoming("99887766554433@lid", "hello", phone=PHONE, sender_phone="5511777777777")
        hidden = sim.incoming(LID_GROUP, "hi all", phone=PHONE, author="11223344556677@lid")
        named = sim.incoming(LID_GROUP, "me too", phone=PHONE, author="5511666666666@c.us")
        assert [await page.evaluate(phone_of, x) for x in (other["from"], "11223344556677@lid")] == \
            ["5511777777777@c.us", "null"]  # a LID group author's number stays hidden

        # Media: the thumbnail is the body, the text is the caption.
        image = sim.incoming(f"{CONTACT}@c.us", None, phone=PHONE, type="image", caption="look")
        doc = sim.incoming(f"{CONTACT}@c.us", None, phone=PHONE, type="document", filename="report.pdf", size=1234)
        adds = {a["key"]: a for a in await page.evaluate("() => window.__rec.adds")}
        p, g, n = (adds[x["id"]]["data"] for x in (private, hidden, named))
        assert p["from"]["_serialized"] == contact_lid and p["body"] == "hi"
        assert p["id"]["$1"] == private["id"] and "_serialized" not in p["id"]
        assert g["author"]["_serialized"] == "11223344556677@lid" and g["to"]["_serialized"] == my_lid
        assert await page.evaluate(phone_of, n["author"]["_serialized"]) == "5511666666666@c.us"
        img, pdf = adds[image["id"]]["data"], adds[doc["id"]]["data"]
        assert (img["type"], img["caption"], img["mimetype"]) == ("image", "look", "image/jpeg")
        assert img["directPath"].startswith("/v/") and img["size"] > 0
        assert (pdf["type"], pdf["filename"], pdf["size"]) == ("document", "report.pdf", 1234)
        assert "caption" not in pdf and all(  # a JPEG thumbnail as the body
            base64.b64decode(m["body"])[:3] == b"\xff\xd8\xff" for m in (img, pdf))
        assert status_of(sim.incoming, f"{CONTACT}@c.us", "text", phone=PHONE, type="image") == 400


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_pairing_code_expires_and_the_qr_stops(sim: RunningSimulator, tmp_path: Path) -> None:
    sim.config(pairing_code_ttl_s=1.0, ref_ttl_s=0.3, max_refs=50)
    request_code = """async (phone) => { const L = window.require('WAWebAltDeviceLinkingApi');
        L.setPairingType('ALT_DEVICE_LINKING'); await L.initializeAltDeviceLinking();
        return L.startAltLinkingFlow(phone, true); }"""
    async with chrome(profile_dir(tmp_path)) as browser:
        page = await first_page(browser)
        await open_page(page, sim.url)
        await until(page, "() => window.__rec.refs.length >= 2")  # the QR rotates...
        code = await page.evaluate(request_code, PHONE)  # ...until we pair by phone number
        refs = len(await page.evaluate("() => window.__rec.refs"))
        assert sim.wait_client(pairing_code=code, qr=None)  # no QR while pairing by phone

        # The lifetime ends: the page says so and does not renew the code itself.
        await until(page, "() => window.__rec.linkRefresh === 1", timeout=5)
        assert len(await page.evaluate("() => window.__rec.refs")) == refs
        assert sim.wait_client(pairing_code=code, pairing_code_expired=True, qr=None)
        assert status_of(sim.pairing_code, code, phone=PHONE) == 410

        # The client asks again; the old code is gone, the fresh one pairs.
        fresh = await page.evaluate(request_code, PHONE)
        assert fresh != code and status_of(sim.pairing_code, code, phone=PHONE) == 404
        sim.pairing_code(fresh, phone=PHONE)
        await until(page, "() => window.__rec.synced.length > 0", timeout=10)


# --------------------------------------------------------------------------- without Chrome
def _page_config(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return dict(json.loads(resp.read().decode().split('id="wasim-config">')[1].split("</script>")[0]))


def test_build_switch() -> None:
    host, port, config = parse_args(["--build", "2026", "--late-modules-ms", "50", "--missing", "WAWebMsgKey.newId,WAWebApiContact"])
    assert (host, port, config.build, config.late_modules_ms) == ("127.0.0.1", 8090, "2026", 50)
    assert config.missing == ["WAWebMsgKey.newId", "WAWebApiContact"]
    pytest.raises(SystemExit, parse_args, ["--build", "2025"])
    with run_simulator() as sim:
        assert _page_config(sim.url)["version"] == "2.3000.1017054665"
        late = _page_config(sim.url + "?build=2026")
        assert (late["build"], late["version"], late["late_modules_ms"]) == ("2026", "2.3000.1046379654", 1500)
        sim.config(build="2026")
        assert _page_config(sim.url)["build"] == "2026" and status_of(sim.config, build="1999") == 400
        assert sim.lid("5511999990001")["lid"].endswith("@lid")
    with run_simulator(build="2026", pairing_code_ttl_s=2) as sim:
        resolved = sim.config()  # no changes: the config as it stands, build defaults filled in
        assert (resolved["pairing_code_ttl_s"], resolved["first_sync_ms"]) == (2.0, 4000)
