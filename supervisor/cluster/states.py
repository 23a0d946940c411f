"""The sessions' states, as their owners tell the cluster: what lets any node route a send by
role to a WORKING session of another node (cluster/rolebook.py) and show a role's members.

Each node writes the latest state of the sessions it owns into their hash (``state``), batched:
a state change is noted at once (a bus listener) and written by one task, all pending ones in
one script, so a burst of starts costs a round trip, not one per change. The script writes only
where this node is the owner; a claim by another node clears the field (scripts.CLAIM), so a dead
node's last word never routes a send. A write that fails stays pending and is tried again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from supervisor.cluster.coord import Coordinator
from supervisor.cluster.redisclient import reachable
from supervisor.errors import ClusterUnavailable
from supervisor.logs import get_logger

__all__ = ["StateMirror"]

_log = get_logger()

#: ARGV: node, session key prefix, then id1, state1, id2, state2, … Sets each state where the
#: node owns the session. Returns how many were written.
_STATES = """
local written = 0
for i = 3, #ARGV, 2 do
  local key = ARGV[2] .. ARGV[i]
  if redis.call('HGET', key, 'owner') == ARGV[1] then
    redis.call('HSET', key, 'state', ARGV[i + 1])
    written = written + 1
  end
end
return written
"""


class StateMirror:
    """This node's sessions' states in Redis; :meth:`run` is owned by the node."""

    def __init__(self, coord: Coordinator, retry_s: float) -> None:
        self._coord = coord
        self._script = coord.redis.register_script(_STATES)
        self._retry_s = retry_s
        self._pending: dict[str, str] = {}  # session id -> its latest state, not yet written
        self._wake = asyncio.Event()

    def note(self, session_id: str, state: str) -> None:
        """Remember ``session_id``'s latest state, for the next write."""
        self._pending[session_id] = state
        self._wake.set()

    def note_all(self, states: Iterable[tuple[str, str]]) -> None:
        """Write these again (after joining, or once Redis lost them)."""
        for session_id, state in states:
            self.note(session_id, state)

    def on_event(self, event: dict[str, Any]) -> None:
        """Bus listener: every state change of a session here."""
        state = event["payload"].get("state") if event["event"] == "session.status" else None
        if isinstance(state, str) and event.get("session"):
            self.note(str(event["session"]), state)

    async def flush(self) -> int:
        """Write what is pending now; how many this node owned. ClusterUnavailable keeps it
        pending."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        args: list[str] = [self._coord.node, self._coord.session_key("")]
        for session_id, state in pending.items():
            args += [session_id, state]
        try:
            with reachable("writing the sessions' states"):
                return int(await self._script(keys=[], args=args))
        except ClusterUnavailable:
            self._pending = {**pending, **self._pending}  # newer notes win
            raise

    async def run(self) -> None:
        """Write the states as they change, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except ClusterUnavailable as exc:
                _log.debug("cluster.states_deferred", error=exc.message, pending=len(self._pending))
                await asyncio.sleep(self._retry_s)
                self._wake.set()
