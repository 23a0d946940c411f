"""A session's sending policy ([sending] with its own overrides), and what makes two sends the
same one (for Idempotency-Key)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from supervisor.config import build_section
from supervisor.errors import ConfigError, InvalidRequest
from supervisor.settings import SendingConfig

__all__ = ["fingerprint", "sending_policy", "policy_dict"]


def sending_policy(base: SendingConfig, overrides: dict[str, Any], where: str) -> SendingConfig:
    """``base`` with a session's overrides, checked as the file's keys are; InvalidRequest."""
    if not overrides:
        return base
    try:
        merged: SendingConfig = build_section("sending", {**policy_dict(base), **overrides}, where)
    except ConfigError as exc:
        raise InvalidRequest(str(exc)) from None
    return merged


def policy_dict(policy: SendingConfig) -> dict[str, Any]:
    """The policy as plain JSON values (the warm-up as [day, cap] lists)."""
    return {k: ([list(p) for p in v] if k == "warmup" else v) for k, v in policy.__dict__.items()}


def fingerprint(chat: str, kind: str, payload: dict[str, Any]) -> str:
    """What makes two sends the same one (an Idempotency-Key must name one send only)."""
    body = {k: v for k, v in payload.items() if k not in ("path", "fingerprint")}
    text = json.dumps([chat, kind, body], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
