"""How the ``zapvisor`` CLI shows a result to people: tables, ``key  value`` lines with nested
objects spelled out (never JSON inside a table), sizes and durations in units people read.
``--json`` bypasses all of this (see ``common``)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import click

__all__ = ["Rendered", "clock", "duration", "mb", "print_human", "table"]

_INLINE_MAX = 100  # a nested object fits on its key's line up to this many characters


class Rendered(dict[str, Any]):
    """A result that prints as ``text`` for people (and as its JSON with --json)."""

    def __init__(self, data: dict[str, Any], text: str) -> None:
        super().__init__(data)
        self.text = text

    def human(self) -> str:
        """What a person sees."""
        return self.text


def mb(value: Any) -> str:
    """Bytes as megabytes ("-" when unknown)."""
    return f"{value / 1048576:.0f} MB" if isinstance(value, (int, float)) else "-"


def duration(value: Any) -> str:
    """Seconds as ``4m05s`` or ``2h13m`` ("-" when unknown)."""
    if not isinstance(value, (int, float)):
        return "-"
    seconds = int(value)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def clock(ts: Any) -> str:
    """A Unix time as local ``HH:MM:SS`` ("-" when unknown)."""
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        return "-"
    return datetime.datetime.fromtimestamp(float(ts)).strftime("%H:%M:%S")


def table(rows: list[list[str]]) -> str:
    """Rows (the first one the header) as aligned columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)


def _scalar(key: str, value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_bytes") and isinstance(value, (int, float)):
        return mb(value)
    if key.endswith("uptime_s"):
        return duration(value)
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)  # a list of objects: rare in these answers, kept exact
    return str(value)


def _lines(data: dict[str, Any], indent: str = "") -> list[str]:
    """``key  value`` lines; a nested object goes on its key's line when short and flat,
    else on lines of its own, indented below it."""
    width = max((len(k) for k in data), default=0)
    out: list[str] = []
    for key, value in data.items():
        label = indent + key.ljust(width)
        if isinstance(value, dict) and value:
            flat = all(not isinstance(v, dict) for v in value.values())
            inline = ", ".join(f"{k} {_scalar(k, v)}" for k, v in value.items())
            if flat and len(inline) <= _INLINE_MAX:
                out.append(f"{label}  {inline}")
            else:
                out.append(label.rstrip())
                out += _lines(value, indent + "  ")
        else:
            out.append(f"{label}  {_scalar(key, value)}")
    return out


def print_human(result: Any) -> None:
    """Print a command's result for people."""
    if result is None:
        return
    if hasattr(result, "human"):  # a result with its own look (a QR code drawn in blocks)
        click.echo(result.human())
    elif isinstance(result, dict) and isinstance(result.get("sessions"), list):
        rows = [["ID", "STATE", "WORKER", "CHROME", "MEMORY", "UPTIME", "RESTARTS", "LAST ERROR"]]
        for s in result["sessions"]:
            rows.append([s["id"], s["state"], str(s["worker_pid"] or "-"),
                         str(s["chrome_pid"] or "-"), mb(s["memory_bytes"]),
                         duration(s["uptime_s"]), str(s["restarts"]),
                         (s["last_error"] or "")[:60]])
        click.echo(table(rows))
    elif isinstance(result, dict) and isinstance(result.get("per_session"), list):
        _print_stats(result)
    elif isinstance(result, dict):
        click.echo("\n".join(_lines(result)))
    else:
        click.echo(result)


def _print_stats(stats: dict[str, Any]) -> None:
    """``zapvisor status``: the daemon's totals, then one line per session."""
    click.echo("\n".join(_lines({k: v for k, v in stats.items() if k != "per_session"})))
    if not stats["per_session"]:
        return
    rows = [["ID", "STATE", "MEMORY", "PROCS", "CPU", "UPTIME", "RESTARTS", "SENT", "RECEIVED"]]
    for s in stats["per_session"]:
        cpu = f"{s['cpu_percent']:.0f}%" if isinstance(s["cpu_percent"], (int, float)) else "-"
        rows.append([s["id"], s["state"], mb(s["memory_bytes"]), str(s["processes"] or "-"), cpu,
                     duration(s["uptime_s"]), str(s["restarts"]), str(s["messages_sent"]),
                     str(s["messages_received"])])
    click.echo("")
    click.echo(table(rows))
