"""JSON Schemas (2020-12, as OpenAPI 3.1 takes them) shared by the route declarations
(api/spec.py): path parameters, the session object, send answers, errors. A route's own request
body is declared beside its handler.

Response objects list the keys that are always there (``required``) and allow more
(``additionalProperties`` left open), so a client may rely on what is listed and a newer daemon
may add keys; request bodies are closed (an unknown field is a 400 naming it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from supervisor.api.httputil import ROW_ID_MAX
from supervisor.api.spec import Answer, Param
from supervisor.settings.sending import OVER_LIMIT
from supervisor.states import State

__all__ = [
    "ANY", "BOOL", "ERROR", "INT", "NUM", "OBJ", "PATH_PARAMS", "ROLE_NAME", "SESSION", "SESSION_ID",
    "STATE", "STR", "Schema", "body",
    "json_answer", "nullable", "obj", "array", "session_obj", "success",
]

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
OBJ: Schema = {"type": "object"}
ANY: Schema = {}
STATE: Schema = {"type": "string", "enum": [str(s) for s in State]}
_NAME_RULE = "use 1-64 letters, digits, '_' or '-', starting with a letter or digit"
#: Session ids and role names (supervisor.settings.rules.SESSION_ID_RE).
SESSION_ID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                      "x-message": f"invalid session id {{value}}: {_NAME_RULE}", "examples": ["sales"]}
ROLE_NAME: Schema = {**SESSION_ID, "x-message": f"invalid role name {{value}}: {_NAME_RULE}",
                     "examples": ["support"]}
ROW_ID: Schema = {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX}


def nullable(schema: Mapping[str, Any]) -> Schema:
    """``schema`` or null."""
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def array(items: Mapping[str, Any], **extra: Any) -> Schema:
    """A list of ``items``."""
    return {"type": "array", "items": dict(items), **extra}


def obj(properties: Mapping[str, Any], required: Iterable[str] | None = None,
        description: str | None = None) -> Schema:
    """A response object: every listed key present unless ``required`` says otherwise."""
    schema: Schema = {"type": "object", "properties": dict(properties),
                      "required": list(properties if required is None else required)}
    if description:
        schema["description"] = description
    return schema


def body(properties: Mapping[str, Any], required: Iterable[str] = ()) -> Schema:
    """A request body: only these fields, ``required`` ones must be there."""
    schema: Schema = {"type": "object", "properties": dict(properties), "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def success(schema: Mapping[str, Any]) -> Schema:
    """``schema`` with the replaced systems' ``"success": true``."""
    return {**schema, "properties": {"success": {"const": True}, **schema["properties"]},
            "required": ["success", *schema.get("required", [])]}


def json_answer(description: str, schema: Mapping[str, Any]) -> Answer:
    """A JSON response."""
    return Answer(description, schema=schema)


#: The schema of each path parameter, by its name in the route.
PATH_PARAMS: dict[str, Schema] = {
    "id": {**SESSION_ID, "description": "the session id"},
    "role": {**ROLE_NAME, "description": "the role name"},
    "queue_id": {**ROW_ID, "description": "the send's queue id"},
    "delivery_id": {**ROW_ID, "description": "the webhook delivery id"},
    "msg": {"type": "string", "minLength": 1, "maxLength": 300,
            "description": "a WhatsApp message id (as events and send answers give it)"},
    "chat": {"type": "string", "minLength": 1, "maxLength": 300,
             "description": "a chat id (123456789@c.us, …@g.us) or a phone number"},
    "contact": {"type": "string", "minLength": 1, "maxLength": 300,
                "description": "a contact id (123456789@c.us) or a phone number"},
    "group": {"type": "string", "minLength": 1, "maxLength": 300, "description": "a group id (…@g.us)"},
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$", "description": "a file name"},
    "node": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
             "description": "a cluster node's id ([cluster] node_id)"},
}

ERROR: Schema = obj({"error": obj({
    "type": {"type": "string", "description": "the error class (supervisor/errors.py), or a "
                                              "worker's own error type"},
    "message": STR,
    "limit": {"type": "string", "description": "RateLimited only: the limit that refused the send"},
}, required=["type", "message"])})

SESSION_BASE: Schema = {
    "id": STR, "state": STATE, "detail": STR, "desired": STR,
    "since": {"type": "string", "format": "date-time"},
    "created_at": {"type": "string", "format": "date-time"},
    "restarts": INT, "last_exit": nullable(STR), "last_error": nullable(STR),
    "phone_number": nullable(STR), "worker_pid": nullable(INT), "chrome_pid": nullable(INT),
    "uptime_s": nullable(NUM), "memory_bytes": nullable(INT), "processes": nullable(INT),
    "cpu_percent": nullable(NUM), "cdp_rtt_ms": nullable(NUM), "profile_dir": STR,
    "wa_version": nullable(STR), "sync_percent": nullable(NUM), "metadata": OBJ,
    "proxy": {**nullable(STR), "description": "the proxy URL, its password shown as ***"},
    "sending": {**nullable(OBJ), "description": "the session's own [sending] keys"},
    "headless": BOOL,
    "node": {**STR, "description": "in a cluster's listing: the node it runs on"},
    "sessionId": STR, "status": STATE, "qrAvailable": BOOL, "phoneNumber": nullable(STR),
}


def session_obj(properties: Mapping[str, Any], description: str | None = None) -> Schema:
    """A session object: every key there but ``node`` (named only in a cluster's listing)."""
    return obj(properties, [k for k in properties if k != "node"], description)


#: A session, everything known about it (GET /api/sessions/{id}).
SESSION: Schema = session_obj(SESSION_BASE, description="A session (the replaced systems' names "
                              "too: sessionId, status, qrAvailable, phoneNumber)")
SESSION_Q: Schema = session_obj({**SESSION_BASE, "queue_depth": INT})
SHORT_STATUS: Schema = obj({
    "id": STR, "state": STATE, "qr_available": BOOL, "phone_number": nullable(STR),
    "since": {"type": "string", "format": "date-time"}, "restarts": INT, "detail": STR,
    "last_exit": nullable(STR), "last_error": nullable(STR), "sessionId": STR, "status": STATE, "qrAvailable": BOOL, "phoneNumber": nullable(STR),
})
HOST_STARVED: Schema = obj({"starved": BOOL, "reasons": array(STR), "loop_lag_ms": NUM,
                            "cpu_pressure": ANY, "episodes": INT})
STATS: Schema = obj({
    "sessions": INT, "by_state": {"type": "object", "additionalProperties": INT},
    "restarts": INT, "sessions_memory_bytes": INT, "supervisor_rss_bytes": INT, "uptime_s": NUM,
    "breaker_open": BOOL, "breaker_trips": INT, "max_sessions": INT,
    "host": obj({"memory_total_bytes": INT, "memory_available_bytes": INT, "memory_percent": NUM,
                 "cpu_percent": nullable(NUM), "cpu_count": INT, "load_1m": NUM}),
    "host_starved": HOST_STARVED, "process_tracking": STR,
})
LISTING: Schema = obj({"sessions": array(SESSION_Q), "stats": STATS})

_SENT_PROPS: Schema = {
    "id": {**nullable(STR), "description": "WhatsApp's message id"}, "to": STR,
    "ack": nullable(INT), "timestamp": nullable(NUM), "session": STR, "queue_id": INT,
    "status": {"const": "sent"}, "kind": STR, "mimetype": STR, "size": INT,
}
#: 201: sent, with WhatsApp's id.
SENT: Schema = obj(_SENT_PROPS, required=["id", "to", "session", "queue_id", "status"])
#: 202: still queued (paced, or held by a limit).
QUEUED: Schema = obj({
    "queue_id": INT, "status": {"type": "string", "enum": ["queued", "sending"]},
    "status_url": STR, "session": STR, "to": STR, "kind": STR,
    "held_by": {**nullable(STR), "description": "the limit or pacing holding it back"},
})
#: A send in the queue.
ENTRY: Schema = obj({
    "queue_id": INT, "session": STR, "to": STR, "kind": STR,
    "status": {"type": "string", "enum": ["queued", "sending", "sent", "failed", "cancelled"]},
    "id": nullable(STR), "created_at": NUM, "sent_at": nullable(NUM), "attempts": INT,
    "held_by": nullable(STR), "error": nullable(obj({"type": nullable(STR), "message": STR})),
    "result": nullable(OBJ),
}, required=["queue_id", "session", "to", "kind", "status", "created_at", "attempts"])

#: The send routes' query parameters and header (api/queue.py).
SEND_PARAMS: tuple[Param, ...] = (
    Param("wait", {"type": "boolean", "default": True},
          "wait up to [sending] wait_s for the send (201); false: answer 202 at once"),
    Param("over_limit", {"type": "string", "enum": list(OVER_LIMIT)},
          "reject: a send over a limit is refused (429, Retry-After) instead of queued"),
    # Printable ASCII, as Stripe's and the IETF draft's.
    Param("Idempotency-Key", {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$",
                              "x-message": "Idempotency-Key must be 1 to 255 printable ASCII characters"},
          "a retried request with the same key gives the first one's send, never a second "
          "message", where="header"),
)
SEND_ANSWERS: dict[int, Answer] = {
    201: json_answer("Sent: WhatsApp's message id", SENT),
    202: json_answer("Queued (paced or held by a limit): poll status_url", QUEUED),
}
