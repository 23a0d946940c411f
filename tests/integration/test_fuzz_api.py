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
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import zlib
from typing import Any

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


def _prepare(case: Any, mode: GenerationMode) -> None:
    """Keep a case on this machine and, for half of the valid ones, aim it at the real session
    (an invalid case keeps its invalid path: that is what must be refused)."""
    if isinstance(case.body, (dict, list)):
        case.body = _contained(case.body)
        if isinstance(case.body, dict) and case.body.get("headless") is False:
            case.body["headless"] = True  # a Chrome window needs a display the test box may have
    params = case.path_parameters or {}
    if mode == GenerationMode.POSITIVE and zlib.crc32(repr(sorted(params.items())).encode()) % 2 == 0:
        if "id" in params:
            params["id"] = SESSION
        if "role" in params:
            params["role"] = ROLE


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


def _fuzz(d: Daemon, operation: Any, mode: GenerationMode, counter: list[int]) -> None:
    base = f"http://127.0.0.1:{d.port}"
    stream = "text/event-stream" in json.dumps(operation.definition.raw.get("responses", {}))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=SEED is None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              print_blob=True)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _prepare(case, mode)
        _ensure_session(d)
        counter[0] += 1
        case.validate_response(_call(case, base, stream), checks=CHECKS)

    if SEED is not None:
        run = seed(int(SEED))(run)
    run()


def test_every_operation_survives_generated_input(make_daemon: MakeDaemon) -> None:
    d = make_daemon(sessions={"max_sessions": 3},
                    sending={"wait_s": 0.2},  # a queued send answers 202 at once
                    events={"sse_ping_interval_s": 0.2}).start()
    with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/openapi.json", timeout=30) as resp:
        doc = json.loads(resp.read())  # no key: the document is public
    schema = schemathesis.openapi.from_dict(doc)
    _ensure_session(d)
    d.client.request("PUT", f"/api/roles/{ROLE}", {"sessions": [SESSION]})
    failures: list[str] = []
    counter, operations, started = [0], 0, time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # An operation that takes no input has no invalid input to try.
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if _inputs(operation) else [])
        for mode in modes:
            try:
                _fuzz(d, operation, mode, counter)
            except (Exception, BaseExceptionGroup) as exc:  # a failed check, and how to reproduce it
                failures.append(f"--- {operation.label} ({mode.value})\n{str(exc)[:3000]}")
    print(f"\nfuzzed {operations} operations, {counter[0]} requests, "
          f"{time.monotonic() - started:.0f} s, {EXAMPLES} examples per operation and mode")
    assert not failures, "\n".join(failures) + f"\n{d.log()[-4000:]}"
    assert operations == sum(len(item) for item in doc["paths"].values())
    assert counter[0] >= operations
    assert '"api.unhandled"' not in d.log()
