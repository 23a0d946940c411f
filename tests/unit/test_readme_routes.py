"""The README shows every messaging route (the OpenAPI tags messages, chats and queue) with a
curl example, and every curl example of the control API names a route that exists: read from
the README's sh blocks and the application's own router, so a new route without an example,
or an example of a route that went, fails here."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from supervisor.api.app import build_app
from supervisor.api.openapi import document
from supervisor.sessions.registry import Registry

README = Path(__file__).resolve().parents[2] / "README.md"
#: The README's stand-ins: $S is one session's base, $U the API's, which listens on 127.0.0.1:8083.
API = "http://127.0.0.1:8083/"
SHORT = {"$S": "http://127.0.0.1:8083/api/sessions/sales", "$U": "http://127.0.0.1:8083"}
MESSAGING_TAGS = {"messages", "chats", "queue"}


def _commands(text: str) -> list[str]:
    """Each command of the README's sh blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip():
                commands.append(line.strip())
    return commands


def curl_calls(text: str) -> list[tuple[str, str]]:
    """(method, path) of every curl command of the README aimed at the control API (not the
    simulator's, say)."""
    calls = []
    for command in _commands(text):
        if not command.startswith("curl "):
            continue
        words = shlex.split(command, comments=True)
        method = "GET"
        urls = []
        for i, word in enumerate(words):
            if word == "-X":
                method = words[i + 1]
            elif word in ("-d", "--data", "-F") and method == "GET":
                method = "POST"
            elif word[:2] in SHORT or word.startswith(API):
                urls.append(SHORT.get(word[:2], "") + word[2:] if word[:2] in SHORT else word)
        assert len(urls) <= 1, f"one control API URL per curl line: {command}"
        calls.extend((method, urlsplit(url).path) for url in urls)
    return calls


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _operations() -> dict[tuple[str, str], Any]:
    doc = document(build_app(cast(Registry, None), "unit-key", 1 << 20))
    return {(method.upper(), path): op for path, item in doc["paths"].items() for method, op in item.items()}


def _matches(call: tuple[str, str], operation: tuple[str, str]) -> bool:
    return call[0] == operation[0] and _pattern(operation[1]).fullmatch(call[1]) is not None


def test_the_parser_reads_methods_and_paths() -> None:
    text = ("```sh\ncurl -H 'X: y' -X PUT $S/messages/m1/reaction -d '{}'  # react\n"
            "curl -H \"X-Api-Key: $K\" $S/media -F to=1 \\\n  -F file=@a.ogg\n"
            "curl \"$S/chats?limit=2\"\necho curl $S/nope\ncurl http://127.0.0.1:8090/_sim/scan\n"
            "curl -X DELETE $U/sessions/a\n```\n")
    assert curl_calls(text) == [("PUT", "/api/sessions/sales/messages/m1/reaction"),
                                ("POST", "/api/sessions/sales/media"), ("GET", "/api/sessions/sales/chats"),
                                ("DELETE", "/sessions/a")]
    assert _matches(("GET", "/api/sessions/sales/chats/1@c.us/messages"),
                    ("GET", "/api/sessions/{id}/chats/{chat}/messages"))
    assert not _matches(("GET", "/api/sessions/sales/chats"), ("GET", "/api/sessions/{id}/chats/{chat}/messages"))


def test_every_messaging_route_has_a_curl_example() -> None:
    calls = curl_calls(README.read_text(encoding="utf-8"))
    messaging = [key for key, op in _operations().items() if MESSAGING_TAGS & set(op.get("tags", []))]
    assert len(messaging) >= 19  # the messaging routes exist: this is not an empty match
    missing = [f"{m} {p}" for m, p in messaging if not any(_matches(call, (m, p)) for call in calls)]
    assert missing == [], f"no curl example in the README for: {missing}"


def test_every_curl_example_names_a_route() -> None:
    operations = list(_operations())
    calls = curl_calls(README.read_text(encoding="utf-8"))
    assert len(calls) >= 30
    unknown = [call for call in calls if not any(_matches(call, op) for op in operations)]
    assert unknown == [], f"curl examples of routes that do not exist: {unknown}"
