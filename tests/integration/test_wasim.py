"""The WhatsApp Web simulator (tests/wasim), driven like a real driver would drive WhatsApp Web.

The Chrome tests touch the page only through what the real page offers (window.Debug,
window.require(...) modules, navigation) plus the out-of-band /_sim controls that play the
phone. Every wait has a deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.wasim import RunningSimulator, SimError, run_simulator

CHROME = "/usr/lib/chromium/chromium-headless-shell"
PHONE = "244929782402"

# What a driver installs once Debug.VERSION is there: listeners first, then read the state.
RECORDER = """() => {
  const R = window.require;
  const rec = window.__rec = {states: [], refs: [], synced: [], progress: [], logout: 0,
                              adds: [], acks: []};
  const S = R('WAWebSocketModel').Socket, Conn = R('WAWebConnModel').Conn;
  S.on('change:state', (_m, s) => rec.states.push(s));
  S.on('change:hasSynced', (_m, v) => rec.synced.push(v));
  Conn.on('change:ref', (_m, ref) => rec.refs.push(ref));
  const Cmd = R('WAWebCmd').Cmd;
  Cmd.on('offline_progress_update_from_bridge', (p) => rec.progress.push(p));
  Cmd.on('logout', () => { rec.logout++; if (window.onLogoutEvent) window.onLogoutEvent(); });
  const Msg = R('WAWebCollections').Msg;
  Msg.on('add', (m) => rec.adds.push(Object.assign(m.serialize(), {isStatusV3: m.isStatusV3})));
  Msg.on('change:ack', (m, ack) => rec.acks.push([m.id._serialized, ack]));
  return {state: S.state, ref: Conn.ref || null, synced: S.hasSynced};
}"""

# anchors §8 item 7, exactly as whatsapp-web.js builds it.
BUILD_QR = """async () => {
  const R = window.require;
  const reg = await R('WAWebSignalStoreApi').waSignalStore.getRegistrationInfo();
  const noise = await R('WAWebUserPrefsInfoStore').waNoiseInfo.get();
  const B = R('WABase64');
  const adv = await R('WAWebAdvSignatureApi').getADVSecretKey();
  const platform = R('WAWebCompanionRegClientUtils').DEVICE_PLATFORM;
  return [R('WAWebConnModel').Conn.ref, B.encodeB64(noise.staticKeyPair.pubKey),
          B.encodeB64(reg.identityKeyPair.pubKey), adv, platform].join(',');
}"""

# anchors §8 item 13: the way whatsapp-web.js sends a text.
SEND = """async (to, body) => {
  const R = window.require;
  const wid = R('WAWebWidFactory').createWid(to);
  const chat = R('WAWebCollections').Chat.get(wid)
    || (await R('WAWebFindChatAction').findOrCreateLatestChat(wid)).chat;
  const MsgKey = R('WAWebMsgKey');
  const me = R('WAWebUserPrefsMeUser').getMaybeMePnUser();
  const key = new MsgKey({from: me, to: chat.id, id: await MsgKey.newId(),
                          participant: chat.id.isGroup() ? me : undefined, selfDir: 'out'});
  await R('WAWebSendMsgChatAction').addAndSendMsgToChat(chat, {
    id: key, ack: 0, body, from: me, to: chat.id, local: true, self: 'out',
    t: Math.floor(Date.now() / 1000), isNewMsg: true, type: 'chat'});
  return R('WAWebCollections').Msg.get(key._serialized).serialize();
}"""

# A send under a key made beforehand (wa-js prepareRawMessage.ts: options.messageId).
SEND_AS = """async (to, body, id) => {
  const R = window.require;
  const chat = (await R('WAWebFindChatAction').findOrCreateLatestChat(R('WAWebWidFactory').createWid(to))).chat;
  const me = R('WAWebUserPrefsMeUser').getMaybeMePnUser();
  const key = new (R('WAWebMsgKey'))({from: me, to: chat.id, id, selfDir: 'out'});
  await Promise.all(R('WAWebSendMsgChatAction').addAndSendMsgToChat(chat, {id: key, ack: 0, body, from: me,
    to: chat.id, local: true, self: 'out', t: Math.floor(Date.now() / 1000), isNewMsg: true, type: 'chat'}));
  return key._serialized;
}"""

# A chat's history, page by page, as whatsapp-web.js Chat.fetchMessages loads it.
LOAD_HISTORY = """async (to) => {
  const R = window.require;
  const chat = (await R('WAWebFindChatAction').findOrCreateLatestChat(R('WAWebWidFactory').createWid(to))).chat;
  const pages = [];
  for (let more = await R('WAWebChatLoadMessages').loadEarlierMsgs({chat}); more.length;
       more = await R('WAWebChatLoadMessages').loadEarlierMsgs({chat})) {
    pages.push(more.map((m) => [m.id.id, m.id.fromMe, m.body, m.ack]));
  }
  return {pages, held: chat.msgs.getModelsArray().map((m) => m.id.id)};
}"""

STATE_EXPR = "window.require('WAWebSocketModel').Socket.state"
STATE = f"() => {STATE_EXPR}"


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with run_simulator(ref_ttl_s=1.5, boot_ms=600, sync_ms=300, open_ms=100) as running:
        yield running


@asynccontextmanager
async def chrome(profile: Path) -> AsyncIterator[Any]:
    """A headless Chrome on `profile`; always closed (and killed if need be) on exit."""
    from pyppeteer import launch

    browser = await launch(
        executablePath=CHROME, args=["--no-sandbox", "--disable-gpu"],
        userDataDir=str(profile), headless=True, autoClose=False,
        handleSIGINT=False, handleSIGTERM=False, handleSIGHUP=False)
    try:
        yield browser
    finally:
        try:
            await asyncio.wait_for(browser.close(), 15)
        finally:
            # Browser.close is asynchronous: give Chrome time to flush the profile and exit.
            proc = browser.process
            deadline = asyncio.get_running_loop().time() + 10
            while proc.poll() is None and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


async def first_page(browser: Any) -> Any:
    return (await browser.pages())[0]


async def until(page: Any, js: str, *args: Any, timeout: float = 8.0) -> Any:
    """Poll `js` in the page until it is truthy, across navigations; TimeoutError after
    `timeout` seconds. Evaluation errors (page navigating, modules not there yet) count as
    not yet."""
    from pyppeteer.errors import ElementHandleError, NetworkError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Exception | None = None
    while True:
        try:
            value = await page.evaluate(js, *args)
            if value:
                return value
        except (ElementHandleError, NetworkError) as exc:
            last = exc
        if loop.time() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {js} (last error: {last})")
        await asyncio.sleep(0.05)


async def open_ready(page: Any, url: str) -> dict[str, Any]:
    """Load the page, wait for Debug.VERSION like a driver, install the recorder."""
    await page.goto(url, {"waitUntil": "load"})
    await until(page, "() => window.Debug && window.Debug.VERSION")
    result: dict[str, Any] = await page.evaluate(RECORDER)
    return result


async def pair(page: Any, sim: RunningSimulator, phone: str = PHONE) -> dict[str, Any]:
    """Wait for a QR, scan it with `phone`, wait until synced."""
    await until(page, f"() => {STATE_EXPR} === 'UNPAIRED'")
    qr = await page.evaluate(BUILD_QR)
    result = sim.scan(qr=qr, phone=phone, pushname="Tester")
    await until(page, "() => window.require('WAWebSocketModel').Socket.hasSynced === true")
    return result


def profile_dir(tmp_path: Path, name: str = "profile") -> Path:
    path = tmp_path.resolve() / name
    path.mkdir()
    return path


# --------------------------------------------------------------------------- with Chrome
@pytest.mark.chrome
@pytest.mark.asyncio
async def test_boot_qr_rotation_scan_send_receive(sim: RunningSimulator, tmp_path: Path) -> None:
    async with chrome(profile_dir(tmp_path)) as browser:
        page = await first_page(browser)
        await page.goto(sim.url, {"waitUntil": "load"})
        assert await page.evaluate("() => typeof window.Debug") == "undefined"  # still booting
        assert await until(page, "() => window.Debug && window.Debug.VERSION") == "2.3000.1017054665"
        first = await page.evaluate(RECORDER)
        assert first["state"] in ("OPENING", "UNPAIRED")
        await until(page, f"() => {STATE_EXPR} === 'UNPAIRED'")
        assert await page.evaluate("() => { try { window.require('NoSuchModule'); } "
                                   "catch (e) { return e.message; } }") == \
            'Requiring unknown module "NoSuchModule"'

        # The QR built from the modules is the one the server knows the page shows.
        qr = await page.evaluate(BUILD_QR)
        ref, noise, identity, adv, platform = qr.split(",")
        assert len(adv) == 44
        assert ref.startswith("2@") and platform == "WEB" and len(noise) == len(identity) == 44
        (listed,) = sim.clients()
        assert listed["qr"] == qr and listed["state"] == "UNPAIRED" and listed["phone"] is None
        assert await page.evaluate("() => document.querySelector('div[data-ref]').dataset.ref") == qr
        assert await page.evaluate("() => !!document.querySelector('div[data-ref] canvas')")

        # The ref rotates; the old QR is now refused (409); the fresh one pairs.
        n = len(await page.evaluate("() => window.__rec.refs"))
        await until(page, f"() => window.__rec.refs.length > {n}", timeout=5)
        fresh = await page.evaluate(BUILD_QR)
        assert fresh.split(",")[0] != ref and fresh.split(",")[1:] == qr.split(",")[1:]
        with pytest.raises(SimError) as stale:
            sim.scan(qr=qr, phone=PHONE)
        assert stale.value.status == 409
        with pytest.raises(SimError) as forged:
            sim.scan(qr=fresh.rsplit(",", 1)[0] + ",OTHER", phone=PHONE)
        assert forged.value.status == 409
        assert sim.scan(qr=fresh, phone=PHONE, pushname="Tester")["wid"] == f"{PHONE}@c.us"

        await until(page, "() => window.require('WAWebSocketModel').Socket.hasSynced === true")
        rec = await page.evaluate("() => window.__rec")
        tail = rec["states"][rec["states"].index("UNPAIRED"):] if "UNPAIRED" in rec["states"] \
            else rec["states"]
        assert tail[-2:] == ["OPENING", "CONNECTED"] and rec["synced"] == [True]
        assert rec["progress"][-1] == 100 and rec["progress"] == sorted(rec["progress"])
        me = await page.evaluate("() => window.require('WAWebUserPrefsMeUser').getMaybeMePnUser()")
        assert me["_serialized"] == f"{PHONE}@c.us"
        conn = await page.evaluate("() => window.require('WAWebConnModel').Conn.serialize()")
        assert conn["wid"]["_serialized"] == f"{PHONE}@c.us" and conn["pushname"] == "Tester"
        assert conn["platform"]
        with pytest.raises(SimError) as again:
            sim.scan(qr=fresh, phone=PHONE)
        assert again.value.status == 409
        assert sim.wait_client(phone=PHONE, synced=True, state="CONNECTED")

        # Send: the server receives exactly that text for exactly that chat, then acks 1.
        sent = await page.evaluate(SEND, "5511999999999@c.us", "olá, mundo")
        assert sent["id"]["fromMe"] is True and sent["to"]["_serialized"] == "5511999999999@c.us"
        log = sim.sent(phone=PHONE)
        assert [(m["id"], m["to"], m["body"]) for m in log] == \
            [(sent["id"]["_serialized"], "5511999999999@c.us", "olá, mundo")]
        await until(page, "(id) => window.__rec.acks.some(([i, a]) => i === id && a === 1)",
                    sent["id"]["_serialized"])
        sim.ack(sent["id"]["_serialized"], 3)
        assert (await page.evaluate("() => window.__rec.acks"))[-1] == [sent["id"]["_serialized"], 3]
        group_sent = await page.evaluate(SEND, "120363000000000001@g.us", "to the group")
        assert group_sent["id"]["participant"]["_serialized"] == f"{PHONE}@c.us"
        assert [m["to"] for m in sim.sent(phone=PHONE)] == \
            ["5511999999999@c.us", "120363000000000001@g.us"]

        # Incoming, each kind, with the model shape of WhatsApp's Msg.
        private = sim.incoming("5511999999999@c.us", "hi", phone=PHONE, pushname="Ana")
        group = sim.incoming("120363000000000001@g.us", "hi all", phone=PHONE,
                             author="5511888888888@c.us")
        status = sim.incoming("5511777777777@c.us", "my status", phone=PHONE, kind="status")
        news = sim.incoming("120363111111111111@newsletter", "news", phone=PHONE)
        adds = {m["id"]["_serialized"]: m for m in await page.evaluate("() => window.__rec.adds")}
        p, g, s, n_ = (adds[x["id"]] for x in (private, group, status, news))
        for m in (p, g, s, n_):
            assert m["isNewMsg"] is True and m["type"] == "chat" and m["id"]["fromMe"] is False
            assert m["to"]["_serialized"] == f"{PHONE}@c.us" and isinstance(m["t"], int)
        assert p["from"]["_serialized"] == "5511999999999@c.us" and p["body"] == "hi"
        assert "author" not in p and p["notifyName"] == "Ana" and p["isStatusV3"] is False
        assert g["from"]["_serialized"] == "120363000000000001@g.us"
        assert g["author"]["_serialized"] == "5511888888888@c.us"
        assert g["id"]["participant"]["_serialized"] == "5511888888888@c.us"
        assert s["from"]["_serialized"] == "status@broadcast" and s["isStatusV3"] is True
        assert s["author"]["_serialized"] == "5511777777777@c.us"
        assert n_["from"]["_serialized"] == "120363111111111111@newsletter"
        assert await page.evaluate(
            "(id) => window.require('WAWebCollections').Msg.get(id).body", private["id"]) == "hi"


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_pairing_survives_relaunch_then_logout(sim: RunningSimulator, tmp_path: Path) -> None:
    profile = profile_dir(tmp_path)
    async with chrome(profile) as browser:
        page = await first_page(browser)
        await open_ready(page, sim.url)
        await pair(page, sim)
        client_id = sim.wait_client(phone=PHONE)["client_id"]

    # Same profile, new Chrome: CONNECTED and synced again, without any QR.
    async with chrome(profile) as browser:
        page = await first_page(browser)
        await open_ready(page, sim.url)
        await until(page, "() => window.require('WAWebSocketModel').Socket.hasSynced === true")
        rec = await page.evaluate("() => window.__rec")
        assert "UNPAIRED" not in rec["states"] and rec["refs"] == []
        assert await page.evaluate(STATE) == "CONNECTED"
        assert await page.evaluate("() => document.querySelector('div[data-ref]')") is None
        assert sim.wait_client(phone=PHONE, synced=True)["client_id"] == client_id

        # Logout from the phone: Cmd logout, then navigation to ?post_logout=1 and a new QR.
        logouts: list[int] = []
        navigated: list[str] = []
        await page.exposeFunction("onLogoutEvent", lambda: logouts.append(1))
        page.on("framenavigated", lambda frame: navigated.append(frame.url))
        sim.logout(phone=PHONE)
        await until(page, "() => location.search.includes('post_logout=1') && window.Debug "
                          "&& window.Debug.VERSION")
        assert logouts == [1] and any("post_logout=1" in u for u in navigated)
        await page.evaluate(RECORDER)
        await until(page, f"() => {STATE_EXPR} === 'UNPAIRED'")
        assert await page.evaluate("() => window.require('WAWebUserPrefsMeUser')"
                                   ".getMaybeMePnUser()") is None
        new_qr = await page.evaluate(BUILD_QR)
        after = sim.client(client_id)
        assert after["phone"] is None and after["qr"] == new_qr

        # Pair again, then the driver's own Socket.logout() also ends on ?post_logout=1.
        await pair(page, sim, phone="5511999990000")
        navigated.clear()
        await page.evaluate("() => window.require('WAWebSocketModel').Socket.logout()")
        await until(page, "() => location.search.includes('post_logout=1') && window.Debug "
                          "&& window.Debug.VERSION && window.require('WAWebSocketModel')"
                          ".Socket.state === 'UNPAIRED'")
        assert sim.client(client_id)["phone"] is None


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_history_outlives_the_page_and_an_id_names_one_message(sim: RunningSimulator, tmp_path: Path) -> None:
    chat, ours, other = "5511999999999@c.us", "3EB0A1B2C3D4E5F6A7B8", "3EB0C1D2E3F4A5B6C7D8"
    profile = profile_dir(tmp_path)
    async with chrome(profile) as browser:
        page = await first_page(browser)
        await open_ready(page, sim.url)
        await pair(page, sim)
        old = sim.control("history", phone=PHONE, chat=chat, messages=[{"body": "old", "from_me": True}])
        for body, key in [("once", ours), ("twice", ours), ("other", other)]:
            await page.evaluate(SEND_AS, chat, body, key)
        hello = sim.incoming(chat, "hello", phone=PHONE)
        # A second stanza under an id adds nothing but its count.
        assert [(m["id"].split("_")[2], m["body"], m["copies"]) for m in sim.sent(phone=PHONE)] == [
            (ours, "once", 2), (other, "other", 1)]

    # A new browser on the profile: the chat's messages load back, ours under their ids.
    async with chrome(profile) as browser:
        page = await first_page(browser)
        await open_ready(page, sim.url)
        await until(page, "() => window.require('WAWebSocketModel').Socket.hasSynced === true")
        loaded = await page.evaluate(LOAD_HISTORY, chat)
        assert loaded["pages"] == [[[old["ids"][0], True, "old", 3], [ours, True, "once", 1],
                                    [other, True, "other", 1], [hello["id"].split("_")[2], False, "hello", 1]]]
        assert loaded["held"] == [row[0] for row in loaded["pages"][0]]  # oldest first


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_conflict_takeover_and_forced_states(sim: RunningSimulator, tmp_path: Path) -> None:
    async with chrome(profile_dir(tmp_path)) as browser:
        page = await first_page(browser)
        await open_ready(page, sim.url)
        await pair(page, sim)
        assert sim.set_state("CONFLICT", phone=PHONE) == {"state": "CONFLICT"}
        assert (await page.evaluate("() => window.__rec.states"))[-1] == "CONFLICT"
        await page.evaluate("() => window.require('WAWebSocketModel').Socket.takeover()")
        await until(page, f"() => {STATE_EXPR} === 'CONNECTED'")
        assert (await page.evaluate("() => window.__rec.states"))[-2:] == ["OPENING", "CONNECTED"]
        sim.set_state("TOS_BLOCK", phone=PHONE)
        assert await page.evaluate(STATE) == "TOS_BLOCK"
        with pytest.raises(SimError) as bad:
            sim.set_state("NOT_A_STATE", phone=PHONE)
        assert bad.value.status == 400


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_pairing_code(sim: RunningSimulator, tmp_path: Path) -> None:
    async with chrome(profile_dir(tmp_path)) as browser:
        page = await first_page(browser)
        await open_ready(page, sim.url)
        await until(page, f"() => {STATE_EXPR} === 'UNPAIRED'")
        code = await page.evaluate("""async (phone) => {
            const L = window.require('WAWebAltDeviceLinkingApi');
            L.setPairingType('ALT_DEVICE_LINKING');
            await L.initializeAltDeviceLinking();
            return L.startAltLinkingFlow(phone, true);
        }""", PHONE)
        assert len(code) == 8 and code.isalnum() and code.isupper()
        with pytest.raises(SimError) as wrong:
            sim.pairing_code(code, phone="5511000000000")
        assert wrong.value.status == 409
        sim.pairing_code(f"{code[:4]}-{code[4:]}", phone=PHONE)
        await until(page, "() => window.require('WAWebSocketModel').Socket.hasSynced === true")
        me = await page.evaluate("() => window.require('WAWebUserPrefsMeUser').getMaybeMePnUser()")
        assert me["_serialized"] == f"{PHONE}@c.us"


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_qr_goes_idle_and_refreshes(tmp_path: Path) -> None:
    with run_simulator(ref_ttl_s=0.4, max_refs=2, boot_ms=100, open_ms=50) as sim:
        async with chrome(profile_dir(tmp_path)) as browser:
            page = await first_page(browser)
            await open_ready(page, sim.url)
            await until(page, f"() => {STATE_EXPR} === 'UNPAIRED_IDLE'")
            assert sim.clients()[0]["qr"] is None
            assert await page.evaluate("() => !!document.querySelector('div[data-ref] > span > button')")
            refs = len(await page.evaluate("() => window.__rec.refs"))
            await page.evaluate("() => window.require('WAWebCmd').Cmd.refreshQR()")
            await until(page, f"() => {STATE_EXPR} === 'UNPAIRED' && window.__rec.refs.length > {refs}")
            qr = await page.evaluate(BUILD_QR)
            assert sim.wait_client(qr=qr)["state"] == "UNPAIRED"


@pytest.mark.chrome
@pytest.mark.asyncio
async def test_break_modes(sim: RunningSimulator, tmp_path: Path) -> None:
    async with chrome(profile_dir(tmp_path)) as browser:
        page = await first_page(browser)
        sim.mode("fail_load")
        response = await page.goto(sim.url, {"waitUntil": "load"})
        assert response.status == 500
        sim.mode("hang")
        # pyppeteer 2.0's own goto timeout never fires when no response ever comes: bound it.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(page.goto(sim.url, {"waitUntil": "load", "timeout": 1500}), 3)
        sim.mode("no_debug")
        await page.goto(sim.url, {"waitUntil": "load"})
        with pytest.raises(TimeoutError):
            await until(page, "() => window.Debug && window.Debug.VERSION", timeout=2)
        assert await page.evaluate("() => typeof window.require") == "undefined"
        sim.mode("normal")
        await open_ready(page, sim.url)
        await until(page, f"() => {STATE_EXPR} === 'UNPAIRED'")


# --------------------------------------------------------------------------- without Chrome
def _get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_page_and_modes_over_http(sim: RunningSimulator) -> None:
    status, html = _get(sim.url + "?ref_ttl_s=1")
    assert status == 200 and "/_wasim/page.js" in html
    config = json.loads(html.split('id="wasim-config">')[1].split("</script>")[0])
    assert config["ref_ttl_s"] == 1.5 and config["no_debug"] is False
    sim.config(ref_ttl_s=2, max_refs=3)
    assert json.loads(_get(sim.url)[1].split('id="wasim-config">')[1].split("</script>")[0])[
        "max_refs"] == 3
    sim.mode("fail_load")
    assert _get(sim.url)[0] == 500
    sim.mode("hang")
    with pytest.raises(TimeoutError):
        _get(sim.url, timeout=0.5)
    sim.mode("no_debug")
    assert '"no_debug": true' in _get(sim.url)[1]
    sim.reset()
    assert '"no_debug": false' in _get(sim.url)[1] and '"max_refs": 6' in _get(sim.url)[1]
    assert _get(sim.url + "_wasim/models.js")[0] == 200
    assert _get(sim.url + "_wasim/nope.js")[0] == 404


def test_controls_reject_bad_requests(sim: RunningSimulator) -> None:
    def status_of(fn: Any, *args: Any, **kwargs: Any) -> int:
        with pytest.raises(SimError) as err:
            fn(*args, **kwargs)
        return err.value.status

    assert sim.clients() == []
    assert status_of(sim.scan, qr="2@nobody,a,b,c,WEB") == 404
    assert status_of(sim.scan, client_id="nope") == 404
    assert status_of(sim.incoming, "1@c.us", "x", phone=PHONE) == 404
    assert status_of(sim.sent, phone=PHONE) == 404
    assert status_of(sim.ack, "true_1@c.us_X", 2) == 404
    assert status_of(sim.ack, "true_1@c.us_X", 9) == 400
    assert status_of(sim.mode, "sideways") == 400
    assert status_of(sim.config, no_such_knob=1) == 400
    assert status_of(sim.logout) == 400
