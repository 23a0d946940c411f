"""``zapvisor events``: follow the daemon's event stream in a terminal, one line per event
(``--json``: the events themselves, one JSON object a line, for scripts).

It reads ``GET /api/events`` (or a session's ``/api/sessions/{id}/events``) and, when the
stream breaks or the daemon restarts, reconnects with ``Last-Event-ID`` so that nothing is
missed (what the daemon's history no longer holds is reported on stderr). Ctrl-C ends it with
status 130, quietly.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import click

from supervisor.cli.client import Client, SSEMessage
from supervisor.cli.common import Commands, client_command
from supervisor.cli.output import clock, mb
from supervisor.errors import DaemonNotRunning, ZapvisorError
from supervisor.settings import EVENT_PATTERN

__all__ = ["COMMANDS", "summary"]

COMMANDS = Commands()

_IDLE_TIMEOUT_S = 120.0  # no byte (not even a ping) for this long: the connection is dead
_RETRY_MAX_S = 5.0
_SUMMARY_MAX = 140
_EVENT_ID = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")


def _status(p: dict[str, Any]) -> str:
    reason = f" ({p['reason']})" if p.get("reason") else ""
    return f"{p.get('old', '?')} -> {p.get('state', '?')}{reason}"


def _message(p: dict[str, Any]) -> str:
    text = p.get("body") or (f"[{p['type']}]" if p.get("type") else "")
    if p.get("from_me"):
        return f"from the phone to {p.get('chat_id', '?')}: {text}"
    who = f"+{p['sender_phone']}" if p.get("sender_phone") else p.get("sender_id") or p.get("chat_id", "?")
    return f"from {who}: {text}"


def _starved(p: dict[str, Any]) -> str:
    if p.get("starved"):
        return "host starved: " + "; ".join(p.get("reasons") or [])
    return f"host no longer starved (after {p.get('duration_s', '?')}s)"


def _resource(p: dict[str, Any]) -> str:
    cpu = p.get("cpu_percent")
    shown = f"{cpu:.0f}%" if isinstance(cpu, (int, float)) else "-"
    return f"memory {mb(p.get('memory_bytes'))}, cpu {shown}, {p.get('processes') or '-'} processes"


_SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "session.status": _status,
    "session.created": lambda p: "created and started" if p.get("start") else "created (stopped)",
    "session.deleted": lambda p: "deleted",
    "session.updated": lambda p: "changed: " + ", ".join(p.get("changed") or []),
    "session.restart": lambda p: (f"restart ({p.get('kind')}): {p.get('reason') or '-'}"
                                  + (f", in {p['delay_s']}s" if p.get("delay_s") else "")),
    "session.recycled": lambda p: f"Chrome replaced: {p.get('reason')}",
    "session.resource": _resource,
    "session.qr": lambda p: f"new QR code (attempt {p.get('attempt', '?')})",
    "session.logout": lambda p: f"logged out by the {p.get('origin')} (+{p.get('phone_number')})",
    "session.page": lambda p: f"WhatsApp Web {p.get('wa_version')}",
    "session.sync": lambda p: f"first sync {p.get('percent')}%",
    "session.pairing_code": lambda p: f"pairing code {p.get('code')} for +{p.get('phone')}",
    "session.incompatible": lambda p: (f"WhatsApp Web {p.get('wa_version')} lacks "
                                       + ", ".join(p.get("missing") or [])),
    "host.starved": _starved,
    "message": _message,
    "message.ack": lambda p: f"ack {p.get('ack')} of {p.get('id')}",
    "message.sent": lambda p: f"sent to {p.get('to')} ({p.get('origin')}): {p.get('body') or p.get('type')}",
    "message.queued": lambda p: f"send {p.get('queue_id')} to {p.get('to')} queued ({p.get('kind')})",
    "message.failed": lambda p: (f"send {p.get('queue_id')} to {p.get('to')} failed: "
                                 f"{(p.get('error') or {}).get('message')}"),
    "message.cancelled": lambda p: f"send {p.get('queue_id')} to {p.get('to')} cancelled",
    "message.reaction": lambda p: f"reaction {p.get('emoji') or '(removed)'} to {p.get('message_id')}",
    "role.updated": lambda p: f"role {p.get('role')}: " + " ".join(p.get("sessions") or []),
}


def summary(event: dict[str, Any]) -> str:
    """A short, one-line description of an event's payload, for people."""
    payload = event.get("payload") or {}
    try:
        text = _SUMMARIES[event["event"]](payload)
    except (KeyError, TypeError, AttributeError, ValueError):
        text = json.dumps(payload, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= _SUMMARY_MAX else text[:_SUMMARY_MAX - 1] + "…"


def line(event: dict[str, Any]) -> str:
    """One event for people: time, name, session, summary."""
    return (f"{clock(event.get('timestamp'))}  {event.get('event', '?'):<16} "
            f"{event.get('session') or '-':<12} {summary(event)}")


def _patterns(text: str | None) -> str:
    patterns = [p.strip() for p in (text or "").split(",") if p.strip()]
    for pattern in patterns:
        if not EVENT_PATTERN.fullmatch(pattern):
            raise click.BadParameter(f"bad event name {pattern!r}: use names such as 'session.status', "
                                     "families such as 'message.*', or '*'", param_hint="--events")
    return ",".join(patterns)


def _show(msg: SSEMessage, as_json: bool) -> None:
    if msg.event == "gap":  # unnumbered: the history no longer reaches back that far
        first = msg.data.get("first_missing", f"after {msg.data.get('after')}")  # a cluster: stream ids
        click.echo(f"zapvisor: warning: events {first}..{msg.data.get('last_missing')} are no "
                   "longer in the daemon's history", err=True)
    elif as_json:
        click.echo(json.dumps(msg.data, separators=(",", ":")))
    else:
        click.echo(line(msg.data))


def follow(client: Client, path: str, after: str | None, as_json: bool) -> None:
    """Print every event of ``path`` after ``after`` (None: from now), reconnecting for ever
    once connected; the first connection's error is raised."""
    connected, outage, delay = False, "", 0.5
    while True:
        try:
            messages = client.stream(path, after, _IDLE_TIMEOUT_S)
            if outage:
                click.echo(f"zapvisor: reconnected, resuming after event {after}", err=True)
            connected, outage, delay = True, "", 0.5
            for msg in messages:
                _show(msg, as_json)
                after = msg.id or after
            why = "the daemon ended the stream"
        except DaemonNotRunning as exc:
            if not connected:
                raise
            why = exc.message
        if not outage:
            click.echo(f"zapvisor: {why}; reconnecting", err=True)
            outage = why
        time.sleep(delay)  # a pause between reconnection attempts, growing while they fail
        delay = min(delay * 2, _RETRY_MAX_S)


def _event_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _EVENT_ID.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not an event id (an integer, or in a cluster a "
                                 "stream id such as 1700000000000-0)")
    return value


@COMMANDS.command()
@click.argument("session_id", required=False)
@click.option("--events", "patterns", metavar="PATTERNS",
              help="only these events: names and families, comma-separated "
                   "(session.status,message.*; a family includes its head: message.* has message)")
@click.option("--after", callback=_event_id, metavar="ID",
              help="first replay the events after this id that the daemon still holds (an "
                   "integer; in a cluster, a stream id such as 1700000000000-0)")
@client_command
def events(client: Client, session_id: str | None, patterns: str | None, after: str | None,
           as_json: bool) -> None:
    """Follow the event stream (of SESSION_ID, or of all sessions): one line per event, or
    one JSON object per line with --json. Reconnects by itself; Ctrl-C ends it."""
    query = _patterns(patterns)
    scope = f"/api/sessions/{quote(session_id, safe='')}/events" if session_id else "/api/events"
    path = scope + (f"?events={quote(query, safe=',*')}" if query else "")
    try:
        if after is None:
            # From the latest id on, rather than "live only": a reconnection before the first
            # event still resumes from there, and nothing falls between the two.
            last = client.get("/api/events?format=json&limit=1").get("last_id")
            if not isinstance(last, (int, str)):
                raise ZapvisorError("the daemon's /api/events?format=json has no last_id")
            after = str(last)
        follow(client, path, after, as_json)
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # Ctrl-C is how one ends it: no message, no newline
