"""Changing a session after its creation (``PATCH /api/sessions/{id}``): its metadata and its
options (sessions.options: proxy, sending). A running session whose change needs it (a new proxy)
restarts on the same profile, so the WhatsApp login stays; a stopped or failed one only stores the
change, and so does any session for a change that applies at once (its sending limits).
"""

from __future__ import annotations

from typing import Any

from supervisor.errors import Unavailable
from supervisor.logs import get_logger
from supervisor.sessions.options import changed_restarting, check, merged, shown
from supervisor.sessions.registry import Registry
from supervisor.sessions.session import Session

__all__ = ["update_session"]

_log = get_logger()


async def update_session(registry: Registry, session_id: str, metadata: dict[str, Any] | None,
                         changes: dict[str, Any]) -> Session:
    """Replace the metadata (unless None) and apply option ``changes`` (sessions.options:
    parsed already; None removes one). Logged and published as ``session.updated``, with the
    options as shown (a proxy's password masked)."""
    if registry.closing:
        raise Unavailable("the daemon is shutting down")
    session = registry.get(session_id)
    async with session.lock:
        before = session.record.options
        after = merged(before, changes)
        check(after, registry.config)
        restarting = changed_restarting(before, after) if session.running() else []
        if restarting:
            registry.admit()  # before anything changes: a refusal (429) changes nothing
        values: dict[str, Any] = {"options": after}
        if metadata is not None:
            values["metadata"] = metadata
        session.update_record(**values)
        await registry.fencing.changed(session)  # a cluster's record of it too
        changed = [*(["metadata"] if metadata is not None else []), *changes]
        _log.info("session.updated", session_id=session_id, changed=changed,
                  restart=bool(restarting), **shown(after))
        registry.bus.publish("session.updated", session_id,
                             {"changed": changed, "restart": bool(restarting), **shown(after)})
        if restarting:
            await registry.relaunch(session, f"{', '.join(restarting)} changed")
    return session
