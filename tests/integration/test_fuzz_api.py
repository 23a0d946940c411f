"""Schemathesis fuzzes every operation of the daemon's own OpenAPI document (GET /openapi.json)
against a live daemon: data that fits the schemas and data that does not, for each operation.
No answer may be a 5xx; every answer must have a documented status, content type and body
schema; input that breaks the schema must be refused with a 4xx.

Bounded for CI: ``ZAPVISOR_FUZZ_EXAMPLES`` examples per operation and mode (default 25), the
same ones every run (derandomized; ``ZAPVISOR_FUZZ_SEED=<n>`` explores others). Nothing leaves
the machine: every URL a request carries (a webhook, a media ``url``, a ``proxy``) is replaced
by a loopback one, which the daemon refuses (private address) or cannot reach (port 9).
Half of the valid session-scoped cases are aimed at a real session (``fuzz``, created stopped and
re-created when a case deletes it), so handlers past the "no such session" check are reached.
A second pass aims WhatsApp's routes (chats, contacts, groups, sends, the queue) at a session
logged in on the WhatsApp Web simulator, and the QR and pairing-code routes at one showing its
QR code, so the answers of those states are checked too.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.daemon import API_KEY, Daemon, MakeDaemon
from tests.support.wa import CONTACT, PHONE_A, login, serving, wa_daemon
from tests.wasim import RunningSimulator

EXAMPLES = int(os.environ.get("ZAPVISOR_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("ZAPVISOR_FUZZ_SEED")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
LOOPBACK = "http://127.0.0.1:9/"
SESSION = "fuzz"
ROLE = "fuzzers"


def _contained(value: Any) -> Any:
    """``value`` with every URL-bearing field pointed at the loopback (see the module doc)."""
    if isinstance(value, dict):
        return {k: (LOOPBACK if k in ("url", "proxy") and isinstance(v, str) else _contained(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_contained(v) for v in value]
    return value


def _prepare(case: Any, mode: GenerationMode, aims: dict[str, Any]) -> None:
    """Keep a case on this machine and, for half of the valid ones, aim it at what exists
    (``aims``: a path parameter's or a body field's name -> value); an invalid case keeps its
    invalid parts: those are what must be refused."""
    if isinstance(case.body, (dict, list)):
        case.body = _contained(case.body)
        if isinstance(case.body, dict) and case.body.get("headless") is False:
            case.body["headless"] = True  # a Chrome window needs a display the test box may have
    params = case.path_parameters or {}
    if mode == GenerationMode.POSITIVE and zlib.crc32(repr(sorted(params.items())).encode()) % 2 == 0:
        params.update({name: value for name, value in aims.items() if name in params})
        if isinstance(case.body, dict):
            case.body.update({name: value for name, value in aims.items() if name in case.body})


def _ensure_session(d: Daemon) -> None:
    if d.call("GET", f"/api/sessions/{SESSION}")[0] == 404:
        d.client.post("/api/sessions", {"id": SESSION, "start": False})


def _call(case: Any, base: str, stream: bool) -> Any:
    """The case's response. An event stream never ends: its status and headers are checked,
    then it is closed (schemathesis's own stream reader needs urllib3 2, and pyppeteer pins 1)."""
    if not stream:
        return case.call(base_url=base, headers={"X-Api-Key": API_KEY}, timeout=60)
    kwargs = case.as_transport_kwargs(base_url=base, headers={"X-Api-Key": API_KEY})
    with requests.request(**{**kwargs, "stream": True, "timeout": 30}) as response:
        if response.headers.get("Content-Type", "").startswith("text/event-stream"):
            assert response.raw.read(1), "the stream sent nothing (its pings come every 0.2 s)"
            response._content = b""
        else:
            response.content  # an error: JSON, read whole
    return response


def _inputs(operation: Any) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody") or "{" in operation.path)


def _fuzz(d: Daemon, operation: Any, mode: GenerationMode, statuses: Counter[int],
          aims: dict[str, str], before: Callable[[], None]) -> None:
    base = f"http://127.0.0.1:{d.port}"
    stream = "text/event-stream" in json.dumps(operation.definition.raw.get("responses", {}))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=SEED is None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              print_blob=True)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _prepare(case, mode, aims)
        before()
        response = _call(case, base, stream)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    if SEED is not None:
        run = seed(int(SEED))(run)
    run()


def _fuzz_all(d: Daemon, aims: Callable[[Any], dict[str, str]], before: Callable[[], None],
              wanted: Callable[[Any], bool] = lambda operation: True) -> tuple[int, dict[str, Any]]:
    """Fuzz every ``wanted`` operation of the daemon's document; (operations, the document)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/openapi.json", timeout=30) as resp:
        doc = json.loads(resp.read())  # no key: the document is public
    schema = schemathesis.openapi.from_dict(doc)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations, started = 0, time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not wanted(operation):
            continue
        operations += 1
        # An operation that takes no input has no invalid input to try.
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if _inputs(operation) else [])
        for mode in modes:
            try:
                _fuzz(d, operation, mode, statuses, aims(operation), before)
            except (Exception, BaseExceptionGroup) as exc:  # a failed check, and how to reproduce it
                failures.append(f"--- {operation.label} ({mode.value})\n{str(exc)[:3000]}")
    print(f"\nfuzzed {operations} operations, {sum(statuses.values())} requests, "
          f"{time.monotonic() - started:.0f} s, {EXAMPLES} examples per operation and mode; "
          f"statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n".join(failures) + f"\n{d.log()[-4000:]}"
    assert sum(statuses.values()) >= operations
    assert '"api.unhandled"' not in d.log()
    return operations, doc


@pytest.mark.chrome  # a generated create or start may launch a session's Chrome
@pytest.mark.timeout(max(300, EXAMPLES * 20))  # the suite's 300 s, or more for a longer run
def test_every_operation_survives_generated_input(make_daemon: MakeDaemon) -> None:
    d = make_daemon(sessions={"max_sessions": 3},
                    sending={"wait_s": 0.2},  # a queued send answers 202 at once
                    events={"sse_ping_interval_s": 0.2}).start()
    _ensure_session(d)
    d.client.request("PUT", f"/api/roles/{ROLE}", {"sessions": [SESSION]})
    operations, doc = _fuzz_all(d, lambda op: {"id": SESSION, "role": ROLE}, lambda: _ensure_session(d))
    assert operations == sum(len(item) for item in doc["paths"].values())


#: What a logged-in session answers for: WhatsApp's routes (chats, sends, the queue), not its
#: lifecycle (the first test has those); logging out would end the login this test needs.
_WHATSAPP_TAGS = {"chats", "messages", "queue", "whatsapp"}


@pytest.mark.chrome
@pytest.mark.timeout(max(300, EXAMPLES * 10))
def test_a_logged_in_session_survives_generated_input(workdir: Path, free_port: int,
                                                       sim: RunningSimulator) -> None:
    with serving(wa_daemon(workdir, free_port, sim, sending={"wait_s": 0.5},
                           events={"sse_ping_interval_s": 0.2})) as d:
        d.client.post("/api/sessions", {"id": "wa"})
        login(d, sim, "wa", PHONE_A)
        sim.incoming(f"{CONTACT}@c.us", "hello", phone=PHONE_A)  # a chat with history
        d.client.post("/api/sessions", {"id": "scan"})  # left showing its QR code
        d.wait_state("scan", "SCAN_QR_CODE")
        working = {"id": "wa", "chat": f"{CONTACT}@c.us", "contact": f"{CONTACT}@c.us", "to": CONTACT}
        operations, _ = _fuzz_all(
            d, lambda op: {"id": "scan"} if op.path.endswith(("/qr", "/pairing-code")) else working,
            lambda: None,
            lambda op: bool(_WHATSAPP_TAGS & set(op.definition.raw.get("tags", [])))
            and not op.path.endswith("/logout"))
        assert operations >= 20
        assert d.session("wa")["state"] == "WORKING"
