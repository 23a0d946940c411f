"""The OpenAPI document (api/openapi.py) against the application it describes: every route of
the aiohttp app is in it and every operation in it is a route; it is valid OpenAPI 3.1; and the
declarations that feed it are the ones that check requests (api/spec.py)."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest
import schemathesis
from aiohttp import web

from supervisor.api import sessions, uploads
from supervisor.api.app import build_app
from supervisor.api.openapi import document
from supervisor.api.spec import OPERATIONS, check_body
from supervisor.errors import InvalidRequest
from supervisor.sessions.registry import Registry

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def app() -> web.Application:
    # The router is all these tests read: no registry, no daemon behind it.
    return build_app(cast(Registry, None), "unit-key", 1 << 20)


@pytest.fixture(scope="module")
def doc(app: web.Application) -> dict[str, Any]:
    return document(app)


def _routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        assert route.resource is not None
        found.add((route.method.lower(), route.resource.canonical))
    return found


def test_every_route_is_an_operation_and_every_operation_a_route(app: web.Application,
                                                                   doc: dict[str, Any]) -> None:
    routes = _routes(app)
    # aiohttp answers HEAD beside every GET (allow_head): implied by the GET, not listed.
    heads = {(m, p) for m, p in routes if m == "head"}
    assert heads == {("head", p) for m, p in routes if m == "get"}
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert documented == routes - heads
    assert all(route.handler in OPERATIONS for route in app.router.routes())
    assert len(documented) >= 60  # not an empty app that trivially matches


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(doc).validate()  # against the OpenAPI 3.1 meta-schema
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_every_operation_says_what_it_does_answers_and_refuses(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        assert set(item) <= METHODS
        names = set(re.findall(r"{([^}]+)}", path))
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            assert op["summary"] and op["tags"], where
            assert any(code.startswith("2") for code in op["responses"]), where
            assert {p["name"] for p in op.get("parameters", []) if p["in"] == "path"} == names, where
            for code, answer in op["responses"].items():
                assert answer.get("content"), f"{where} {code} has no content type"
            if op.get("security") != []:
                assert "401" in op["responses"], where
            if "requestBody" in op:
                assert {"400", "413"} <= set(op["responses"]), where


def test_exactly_the_declared_public_routes_need_no_key(doc: dict[str, Any]) -> None:
    public = {(m, p) for p, item in doc["paths"].items() for m, op in item.items() if op.get("security") == []}
    assert public == {("get", "/health"), ("get", "/health/ready"), ("get", "/openapi.json"),
                      ("get", "/docs"), ("get", "/docs/{name}"), ("get", "/"), ("get", "/cluster"),
                      ("get", "/static/{name}")}
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}


def test_non_json_answers_carry_their_content_types(doc: dict[str, Any]) -> None:
    def types(path: str, method: str = "get") -> set[str]:
        return set(doc["paths"][path][method]["responses"]["200"]["content"])

    assert types("/api/sessions/{id}/qr") == {"image/png", "application/json"}
    # An event stream, or (?format=json) the latest events at once.
    assert types("/api/events") == {"text/event-stream", "application/json"}
    assert types("/api/sessions/{id}/events") == {"text/event-stream", "application/json"}
    assert types("/api/sessions/{id}/messages/{msg}/media") == {"*/*"}
    assert types("/metrics") == {"text/plain"}
    assert types("/") == {"text/html"} and types("/docs") == {"text/html"}
    assert types("/sessions") == {"application/json", "text/html"}
    assert "text/javascript" in types("/static/{name}") and "text/css" in types("/docs/{name}")
    upload = doc["paths"]["/api/sessions/{id}/media"]["post"]["requestBody"]["content"]
    assert set(upload) == {"application/json", "multipart/form-data"}


def test_the_document_lists_the_error_types_each_route_may_answer(doc: dict[str, Any]) -> None:
    create = doc["paths"]["/api/sessions"]["post"]["responses"]
    assert "TooManySessions" in create["429"]["description"] and "Overloaded" in create["429"]["description"]
    assert "Retry-After" in create["429"]["headers"]
    send = doc["paths"]["/api/sessions/{id}/messages"]["post"]
    assert {"201", "202", "400", "401", "404", "409", "422", "429", "503"} <= set(send["responses"])
    assert {p["name"] for p in send["parameters"]} == {"id", "wait", "over_limit", "Idempotency-Key"}
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["type", "message"]
    assert "limit" in error["properties"]["error"]["properties"]


@pytest.mark.parametrize(("body", "message"), [
    ({"id": "a", "colour": "red"}, "unknown field(s) colour; allowed: id, sessionId, start"),
    ({"start": "yes"}, "field 'start' has the wrong type: 'yes' (expected boolean)"),
    ({"id": "../x"}, "invalid session id '../x': use 1-64 letters"),
    ({"webhooks": [{"events": []}]}, "field 'webhooks[0].url' is required"),
    ({"webhooks": [{"url": "http://h/", "colour": 1}]}, "webhooks[0]: unknown field(s) colour"),
    ({"webhooks": [{"url": "http://h/", "events": ["Bad Name"]}]}, "field 'webhooks[0].events[0]' must match"),
])
def test_a_bad_body_is_a_400_naming_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_body(body, sessions.CREATE)
    assert message in caught.value.message


def test_a_field_that_may_hold_a_secret_is_never_echoed() -> None:
    for body in ({"proxy": {"url": "http://u:hunter2@h:1"}}, {"webhooks": [{"url": "http://h/", "secret": ["hunter2"]}]}):
        with pytest.raises(InvalidRequest) as caught:
            check_body(body, sessions.CREATE)
        assert "wrong type" in caught.value.message and "hunter2" not in caught.value.message


def test_the_upload_fields_are_checked_with_the_documented_schema() -> None:
    check_body({"to": 244929782402, "data": "aGk=", "kind": "image", "voice": False}, uploads.FIELDS)
    with pytest.raises(InvalidRequest, match="field 'kind' must be one of image, video"):
        check_body({"to": "1", "kind": "gif"}, uploads.FIELDS)
    with pytest.raises(InvalidRequest, match="field 'to' is required"):
        check_body({"data": "aGk="}, uploads.FIELDS)


def test_every_tag_is_described(doc: dict[str, Any]) -> None:
    used = {tag for item in doc["paths"].values() for op in item.values() for tag in op["tags"]}
    assert used == {tag["name"] for tag in doc["tags"]}
