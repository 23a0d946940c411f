"""Media end to end, on both WhatsApp Web builds the simulator models: every kind sent (from
base64 JSON, a URL and multipart; the bytes arrive intact, the caption kept), received and
downloaded (the same bytes), replies and mentions both ways, automatic downloads and their
clean-up, and each bad input a clear 4xx. Real daemon, workers and Chrome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from supervisor.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from tests.support.hosts import REBOUND, own_hosts
from tests.support.media import b64, download, file_server, sample
from tests.support.procs import wait_until
from tests.support.wa import (
    CHAT,
    CONTACT,
    PHONE_A,
    login,
    serving,
    wa_daemon,
    wait_event,
)
from tests.wasim import RunningSimulator

pytestmark = pytest.mark.chrome



@pytest.fixture
def sim(sim_each_build: RunningSimulator) -> RunningSimulator:
    return sim_each_build


def _sent(sim: RunningSimulator, message_id: str) -> dict[str, Any]:
    return next(m for m in sim.sent(phone=PHONE_A) if m["id"] == message_id)


def test_sends_every_kind_in_every_form(workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    files = {kind: sample(kind) for kind in ("image", "video", "audio", "ptt", "document", "sticker")}
    with file_server({"/files/clip.mp4": (files["video"], "video/mp4")}) as base:
        d = wa_daemon(workdir, free_port, sim, media={"allow_private_networks": True})
        with serving(d):
            d.client.post("/api/sessions", {"id": "a"})
            login(d, sim, "a", PHONE_A)
            doc = workdir / "Relatório final.pdf"
            doc.write_bytes(files["document"])
            voice = workdir / "note.ogg"
            voice.write_bytes(files["ptt"])
            sends = {
                "image": d.client.post("/api/sessions/a/media", {
                    "to": f"+{CONTACT}", "data": b64(files["image"]), "caption": "a photo"}),
                "video": d.client.post("/api/sessions/a/media", {
                    "to": CHAT, "url": f"{base}/files/clip.mp4", "caption": "a clip"}),
                "audio": d.client.post("/api/sessions/a/media", {
                    "to": CHAT, "data": b64(files["audio"]), "filename": "song.mp3"}),
                "ptt": d.client.post_file("/api/sessions/a/media", {"to": CHAT, "voice": "true"}, voice),
                "document": d.client.post_file("/api/sessions/a/media",
                                               {"to": CHAT, "caption": "the report"}, doc),
                "sticker": d.client.post("/api/sessions/a/media", {
                    "to": CHAT, "kind": "sticker", "data": b64(files["sticker"])}),
            }
            for kind, result in sends.items():
                assert result["kind"] == kind and result["size"] == len(files[kind]), result
                on_page = _sent(sim, result["id"])
                assert on_page["type"] == kind and on_page["delivered"], on_page
                assert sim.media(on_page["direct_path"]) == files[kind], kind  # intact
            assert _sent(sim, sends["image"]["id"])["caption"] == "a photo"
            assert _sent(sim, sends["video"]["id"])["caption"] == "a clip"
            document = _sent(sim, sends["document"]["id"])
            assert (document["filename"], document["caption"], document["mimetype"]) == (
                "Relatório final.pdf", "the report", "application/pdf")
            assert _sent(sim, sends["ptt"]["id"])["mimetype"] == "audio/ogg"
            # Each send is a message.sent event that names its kind.
            last = d.client.get("/api/stats")["events"]["last_id"]
            events = wait_event(d, lambda e: e["id"] >= last, session="a")
            kinds = {e["payload"]["id"]: e["payload"]["type"] for e in events if e["event"] == "message.sent"}
            assert all(kinds[result["id"]] == kind for kind, result in sends.items())

            # The CLI: zapvisor send SESSION TO --file PATH [--caption …] [--voice].
            def cli(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([sys.executable, "-m", "supervisor", "--config", str(d.config_path),
                                       "send", "a", f"+{CONTACT}", *args], capture_output=True, text=True,
                                      timeout=60)
            out = cli("--file", str(doc), "--caption", "via the cli", "--json")
            assert out.returncode == 0, out.stderr
            record = _sent(sim, json.loads(out.stdout)["id"])
            assert (record["type"], record["caption"]) == ("document", "via the cli")
            assert sim.media(record["direct_path"]) == files["document"]
            out = cli("--file", str(voice), "--voice", "--json")
            assert out.returncode == 0 and _sent(sim, json.loads(out.stdout)["id"])["type"] == "ptt"
            assert cli("some text", "--file", str(doc)).returncode == 2  # a usage error


def test_receives_and_downloads_media_replies_and_mentions(workdir: Path, free_port: int,
                                                            sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim)
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        sent = d.client.post("/api/sessions/a/messages", {"to": CHAT, "text": "send me the file"})
        pdf = sample("document", 300_000)
        sim.incoming(CHAT, None, phone=PHONE_A, type="document", data=b64(pdf), filename="contrato.pdf",
                     caption="here it is", quoted_id=sent["id"], mentions=[f"{PHONE_A}@c.us"])
        event = wait_event(d, lambda e: e["payload"].get("type") == "document", "message", session="a")[-1]
        message = event["payload"]
        assert (message["mimetype"], message["filename"], message["size"], message["caption"]) == (
            "application/pdf", "contrato.pdf", len(pdf), "here it is")
        assert message["has_media"] and message["quoted_id"] == sent["id"]
        assert message["mentions"] == [f"{PHONE_A}@c.us"]
        status, headers, body = download(d, f"/api/sessions/a/messages/{message['id']}/media")
        assert (status, body) == (200, pdf)
        assert headers["Content-Type"] == "application/pdf"
        assert "contrato.pdf" in headers["Content-Disposition"]

        # Every other kind: its event says what it is, its download gives the same bytes back.
        received: dict[str, dict[str, Any]] = {}
        for kind, mimetype in (("video", "video/mp4"), ("audio", "audio/mpeg"), ("ptt", "audio/ogg; codecs=opus"),
                               ("sticker", "image/webp"), ("image", "image/png")):
            data = sample(kind, 5_000)
            sim.incoming(CHAT, None, phone=PHONE_A, type=kind, data=b64(data), mimetype=mimetype)
            got = wait_event(d, lambda e, k=kind: e["payload"].get("type") == k, "message", session="a")[-1]
            received[kind] = got
            assert (got["payload"]["mimetype"], got["payload"]["size"], got["payload"]["has_media"]) == (
                mimetype, len(data), True), got
            status, headers, body = download(d, f"/api/sessions/a/messages/{got['payload']['id']}/media")
            assert (status, body, headers["Content-Type"]) == (200, data, mimetype.split(";")[0]), kind
        image = received["image"]

        # A reply with mentions, to that photo: the page quotes it and names the mentioned.
        reply = d.client.post("/api/sessions/a/messages", {
            "to": CHAT, "text": "nice", "reply_to": image["payload"]["id"], "mentions": [f"+{CONTACT}"]})
        on_page = _sent(sim, reply["id"])
        assert on_page["quoted_id"] == image["payload"]["id"].split("_")[2]
        assert on_page["mentions"] == [CHAT]
        # A file can reply too; a reply to a message the session never saw is a 404.
        answer = d.client.post("/api/sessions/a/media", {"to": CHAT, "data": b64(sample("document", 2_000)),
                                                         "reply_to": received["video"]["payload"]["id"]})
        assert _sent(sim, answer["id"])["quoted_id"] == received["video"]["payload"]["id"].split("_")[2]
        with pytest.raises(NotFound, match="no message"):
            d.client.post("/api/sessions/a/messages", {"to": CHAT, "text": "?", "reply_to": f"false_{CHAT}_0BAD"})


def test_bad_inputs_are_clear_4xx(workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    sim.config(missing=["WAWebSendReactionMsgAction"])  # a build without reactions
    d = wa_daemon(workdir, free_port, sim, media={"max_image_bytes": 4096, "max_download_bytes": 4096})
    with serving(d, preexec_fn=own_hosts(workdir)):  # root, as the suite runs in CI
        d.client.post("/api/sessions", {"id": "a", "start": False})
        with pytest.raises(Conflict, match="STOPPED"):  # names the state
            d.client.post("/api/sessions/a/media", {"to": CHAT, "data": b64(sample("image", 100))})
        d.client.post("/api/sessions/a/start")
        login(d, sim, "a", PHONE_A)
        unknown = f"false_{CHAT}_0123456789ABCDEF0123456789ABCDEF"
        with pytest.raises(NotFound, match="no message"):
            d.client.delete(f"/api/sessions/a/messages/{unknown}")
        # A page without a feature still logs in and sends; the feature says what is missing.
        with pytest.raises(Unavailable, match="lacks WAWebSendReactionMsgAction.sendReactionToMsg"):
            d.client.request("PUT", f"/api/sessions/a/messages/{unknown}/reaction", {"emoji": "👍"})
        status, _, body = download(d, f"/api/sessions/a/messages/{unknown}/media")
        assert status == 404 and json.loads(body)["error"]["type"] == "NotFound"
        assert download(d, "/api/sessions/a/messages/not-an-id/media")[0] == 400
        with pytest.raises(PayloadTooLarge, match="max_image_bytes"):
            d.client.post("/api/sessions/a/media", {"to": CHAT, "data": b64(sample("image", 5000))})
        with pytest.raises(InvalidRequest, match="application/pdf by its content"):
            d.client.post("/api/sessions/a/media", {"to": CHAT, "kind": "image", "mimetype": "image/png",
                                                    "data": b64(sample("document", 1000))})
        with pytest.raises(InvalidRequest, match="a sticker must be"):
            d.client.post("/api/sessions/a/media", {"to": CHAT, "kind": "sticker",
                                                    "data": b64(sample("image", 1000))})
        for url in ("http://127.0.0.1:9/x.png", "http://localhost:9/x.png", "http://[::1]:9/x.png",
                    "http://10.0.0.1/x.png", "http://169.254.169.254/latest/meta-data/"):
            with pytest.raises(InvalidRequest, match=r"public addresses .* \[media\] allow_private_networks"):
                d.client.post("/api/sessions/a/media", {"to": CHAT, "url": url})
        # A name is checked where it becomes an address (this one is 127.0.0.1 to the daemon).
        with pytest.raises(InvalidRequest, match=rf"{REBOUND} resolves to 127.0.0.1 .*\[media\] allow_priv"):
            d.client.post("/api/sessions/a/media", {"to": CHAT, "url": f"http://{REBOUND}:{free_port}/x.png"})
        big = workdir / "big.png"
        big.write_bytes(sample("image", 5000))
        with pytest.raises(PayloadTooLarge, match="max_image_bytes"):  # multipart, the same limit
            d.client.post_file("/api/sessions/a/media", {"to": CHAT}, big)
        # Downloads: a file over max_download_bytes, a message without media.
        sim.incoming(CHAT, None, phone=PHONE_A, type="image", data=b64(sample("image", 5000)))
        photo = wait_event(d, lambda e: e["payload"].get("type") == "image", "message", session="a")[-1]
        status, _, body = download(d, f"/api/sessions/a/messages/{photo['payload']['id']}/media")
        assert status == 413 and "at most 4096" in json.loads(body)["error"]["message"]
        sim.incoming(CHAT, "just text", phone=PHONE_A)
        text = wait_event(d, lambda e: e["payload"].get("body") == "just text", "message", session="a")[-1]
        status, _, body = download(d, f"/api/sessions/a/messages/{text['payload']['id']}/media")
        assert status == 400 and "has no media" in json.loads(body)["error"]["message"]
        with pytest.raises(InvalidRequest, match="exactly one of"):
            d.client.post("/api/sessions/a/media", {"to": CHAT})
        with pytest.raises(InvalidRequest, match="base64"):
            d.client.post("/api/sessions/a/media", {"to": CHAT, "data": "not base64!"})
        # Nothing is left behind in the scratch folder, sent or refused.
        assert list(d.state_dir.glob("sessions/a/tmp/zv-media/*")) == []


def test_auto_download_and_its_cleanup(workdir: Path, free_port: int, sim: RunningSimulator) -> None:
    d = wa_daemon(workdir, free_port, sim, media={"auto_download": True, "keep_days": 1.0},
                  limits={"check_interval_s": 0.5})
    with serving(d):
        d.client.post("/api/sessions", {"id": "a"})
        login(d, sim, "a", PHONE_A)
        clip = sample("video", 20_000)
        sim.incoming(CHAT, None, phone=PHONE_A, type="video", data=b64(clip))
        message = wait_event(d, lambda e: e["payload"].get("type") == "video", "message", session="a")[-1]
        folder = d.state_dir / "sessions" / "a" / "media"
        wait_until(lambda: len(list(folder.glob("*"))) == 2, timeout=20, message="the video saved")
        saved = [p for p in folder.glob("*") if p.suffix != ".json"]
        assert saved[0].read_bytes() == clip
        assert json.loads(saved[0].with_suffix(".json").read_text())["id"] == message["payload"]["id"]
        # The saved copy serves the download (even once the page forgot the message).
        assert download(d, f"/api/sessions/a/messages/{message['payload']['id']}/media")[2] == clip
        # Kept keep_days (1 day here): a copy two days old goes, a fresh one stays.
        song = sample("audio", 8_000)
        sim.incoming(CHAT, None, phone=PHONE_A, type="audio", data=b64(song))
        wait_until(lambda: len(list(folder.glob("*"))) == 4, timeout=20, message="the song saved")
        old = time.time() - 2 * 86400
        for path in [saved[0], saved[0].with_suffix(".json")]:
            os.utime(path, (old, old))
        wait_until(lambda: not saved[0].exists(), timeout=20, message="old media pruned")
        kept = [p for p in folder.glob("*") if p.suffix != ".json"]
        assert [p.read_bytes() for p in kept] == [song] and len(list(folder.glob("*"))) == 2
