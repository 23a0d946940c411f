"""Declared operations: each route says once what it takes and what it answers, and that one
declaration both checks its requests and feeds the OpenAPI document (api/openapi.py)::

    @routes.post("/api/sessions/{id}/messages")
    @operation(body=SEND, params=[WAIT], responses={201: SENT, 202: QUEUED},
               errors=[Conflict, NotOnWhatsApp], tags=["messages"])
    async def post_message(request: web.Request, body: dict[str, Any]) -> web.Response:
        \"\"\"Send a text (the docstring is the operation's summary and description).\"\"\"

Schemas are JSON Schema 2020-12 (the dialect of OpenAPI 3.1), checked by the ``jsonschema``
library, so what the document says is exactly what the daemon enforces. The wrapper reads the
JSON body (api.httputil.json_object), checks it and each declared query parameter and header,
and answers InvalidRequest naming the first problem (``unknown field(s) x; allowed: …``,
``field 'to' is required``, ``field 'start' has the wrong type …``). A handler reads its checked
parameters, with their defaults, from :func:`params`. A schema may word its own problem
(``"x-message": "invalid session id {value}: …"``). Rules that span fields (``to`` or
``phoneNumber``, not both) stay in the handlers and are told in the descriptions.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from supervisor.api.httputil import json_object
from supervisor.errors import InvalidRequest, ZapvisorError

__all__ = ["OPERATIONS", "Answer", "Operation", "Param", "check_body", "operation", "params"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PARAMS = web.RequestKey("params", dict)
_INTEGER = re.compile(r"-?[0-9]{1,1000}")  # ASCII digits only: int() also takes "٣" and "1_0"
_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True)
class Param:
    """A query parameter (or a header, ``where="header"``)."""

    name: str
    schema: Mapping[str, Any]
    description: str
    where: str = "query"
    required: bool = False


@dataclass(frozen=True)
class Answer:
    """One documented response: JSON of ``schema``, or ``media`` (media type -> schema)."""

    description: str
    schema: Mapping[str, Any] | None = None
    media: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """Everything one route declares."""

    summary: str
    description: str
    tags: tuple[str, ...]
    responses: Mapping[int, Answer]
    errors: tuple[type[ZapvisorError], ...]
    body: Mapping[str, Any] | None  # the JSON body's schema
    body_media: Mapping[str, Mapping[str, Any]]  # other request media types (the handler reads them)
    params: tuple[Param, ...]
    public: bool  # no API key needed


#: Every declared handler (the wrapper aiohttp calls) -> its operation.
OPERATIONS: dict[Handler, Operation] = {}


def operation(*, responses: Mapping[int, Answer], errors: Iterable[type[ZapvisorError]] = (),
              body: Mapping[str, Any] | None = None, params: Iterable[Param] = (),
              tags: Iterable[str] = (), public: bool = False, read_body: bool = True,
              body_media: Mapping[str, Mapping[str, Any]] | None = None) -> Callable[[Callable[..., Awaitable[web.StreamResponse]]], Handler]:
    """Declare a handler's operation. With a ``body`` that the wrapper reads (``read_body``),
    the handler is called as ``fn(request, body)`` with the checked body; else ``fn(request)``.
    ``body_media``: further request media types (multipart), which the handler reads itself."""
    declared = tuple(params)
    checker = Draft202012Validator(body) if body is not None and read_body else None

    def decorate(fn: Callable[..., Awaitable[web.StreamResponse]]) -> Handler:
        # Docstrings are reStructuredText; the document's texts are Markdown (``x`` -> `x`).
        doc = (inspect.getdoc(fn) or "").replace("``", "`")
        first = " ".join(doc.partition("\n\n")[0].split())
        sentence = re.split(r"(?<=\.)\s", first, maxsplit=1)[0].rstrip(".")
        op = Operation(summary=sentence, description=doc,
                       tags=tuple(tags), responses=dict(responses), errors=tuple(errors), body=body,
                       body_media=dict(body_media or {}), params=declared, public=public)

        @functools.wraps(fn)
        async def handler(request: web.Request) -> web.StreamResponse:
            request[_PARAMS] = _checked_params(request, declared)
            if checker is None:
                return await fn(request)
            value = await json_object(request)
            _raise_first(checker, value)
            return await fn(request, value)

        OPERATIONS[handler] = op
        return handler

    return decorate


def params(request: web.Request) -> dict[str, Any]:
    """The request's declared parameters, checked and typed, with their schema defaults."""
    return request.get(_PARAMS, {})


def check_body(value: Any, schema: Mapping[str, Any]) -> None:
    """InvalidRequest naming the first problem of ``value`` against ``schema`` (for a handler
    that reads its body itself: a multipart upload)."""
    _raise_first(_validator(schema), value)


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Draft202012Validator]] = {}


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """One validator per schema object (schemas are module constants; the entry keeps the
    schema alive, so its id is never reused by another)."""
    known = _VALIDATORS.get(id(schema))
    if known is None or known[0] is not schema:
        known = _VALIDATORS[id(schema)] = (schema, Draft202012Validator(schema))
    return known[1]


def _checked_params(request: web.Request, declared: tuple[Param, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for param in declared:
        source = request.query if param.where == "query" else request.headers
        label = f"{'query parameter' if param.where == 'query' else 'header'} {param.name!r}"
        kinds = _types(param.schema)
        if "array" in kinds:
            raw_values = source.getall(param.name, [])
            if not raw_values:
                raw: Any = None
            else:
                items = param.schema.get("items", {})
                raw = [_coerce(v, items, label) for v in raw_values]
        else:
            text = source.get(param.name)
            raw = None if text is None else _coerce(text, param.schema, label)
        if raw is None:
            if param.required:
                raise InvalidRequest(f"{label} is required")
            if "default" in param.schema:
                found[param.name] = param.schema["default"]
            continue
        _raise_first(_validator(param.schema), raw, label)
        found[param.name] = raw
    return found


def _coerce(text: str, schema: Mapping[str, Any], label: str) -> Any:
    """A query string's text as the schema's type (the text itself when it is no number or flag)."""
    kinds = _types(schema)
    if "integer" in kinds and "string" not in kinds:
        if not _INTEGER.fullmatch(text.strip()):
            custom = schema.get("x-message")
            raise InvalidRequest(custom.format(value=_short(text)) if isinstance(custom, str)
                                 else f"{label} must be an integer, got {text[:40]!r}")
        return int(text)
    if "boolean" in kinds:
        flag = _FLAGS.get(text.strip().lower())
        if flag is None:
            raise InvalidRequest(f"{label} must be true or false, got {text[:20]!r}")
        return flag
    return text


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_RANK = {"additionalProperties": 0, "required": 1, "type": 2}


def _raise_first(checker: Draft202012Validator, value: Any, label: str | None = None) -> None:
    errors = sorted(checker.iter_errors(value), key=lambda e: (len(e.path), _RANK.get(str(e.validator), 3)))
    if errors:
        raise InvalidRequest(_message(errors[0], label))


def _message(error: ValidationError, label: str | None) -> str:
    """One clear sentence for a schema violation, naming the field (or parameter)."""
    where = _where(error.path)
    name = label or (f"field {where!r}" if where else "the request body")
    rule, value = str(error.validator), error.instance
    limit: Any = error.validator_value
    # A writeOnly field may hold a secret (a proxy URL's password): never echo it.
    hidden = isinstance(error.schema, dict) and error.schema.get("writeOnly") is True
    shown = "" if hidden else f": {_short(value)}"
    got = "" if hidden else f", got {_short(value)}"
    if rule == "additionalProperties" and isinstance(value, dict):
        allowed = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
        unknown = sorted(set(value) - set(allowed))
        prefix = f"{where}: " if where else ""
        return f"{prefix}unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
    if rule == "required" and isinstance(value, dict):
        missing = [key for key in limit if key not in value]
        return f"field {_where([*error.path, missing[0]])!r} is required"
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if isinstance(custom, str) and rule != "type":  # the schema's words: a session id's rule
        return custom.format(value="(hidden)" if hidden else _short(value))
    if rule == "type":
        kinds = " or ".join(limit) if isinstance(limit, list) else str(limit)
        return f"{name} has the wrong type{shown} (expected {kinds})"
    if rule in ("enum", "const"):
        options = limit if rule == "enum" else [limit]
        return f"{name} must be one of {', '.join(map(str, options))}{got}"
    words = {"minimum": "must be at least {}", "maximum": "must be at most {}",
             "minLength": "must have at least {} characters", "maxLength": "must have at most {} characters",
             "minItems": "must have at least {} items", "maxItems": "must have at most {} items",
             "pattern": "must match {}", "uniqueItems": "must not repeat an item",
             "multipleOf": "must be a multiple of {}"}
    if rule in words:
        return f"{name} {words[rule].format(limit)}{got}"
    return f"{name} is not valid ({rule})" if hidden else f"{name}: {error.message[:200]}"
