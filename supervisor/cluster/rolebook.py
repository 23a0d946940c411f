"""The cluster's roles (sessions/rolebook.py says what a role book answers): kept in Redis, so
that every node shows the same roles and a send by role goes round-robin over the role's WORKING
sessions wherever they run.

Keys: ``zv:roles`` (hash role -> JSON list of session ids, in order) and ``zv:rolecursor`` (hash
role -> the index to try next). A pick reads the cursor, each candidate's owner and state (as its
owner wrote it: cluster/states.py) and the owner's lease, and moves the cursor, in one script: two
nodes picking at once get different sessions, as one host's router would give them.

A node also keeps the roles it changes in its own database, and hands them to Redis where the
cluster has no role of that name: when it joins (a host that ran alone brings its roles along),
and when it finds that Redis lost its data (cluster/recovery.py).
"""

from __future__ import annotations

import json

from supervisor.cluster.coord import Coordinator
from supervisor.cluster.redisclient import reachable, text
from supervisor.sessions.rolebook import LocalRoleBook, Member

__all__ = ["ClusterRoleBook"]

#: KEYS: cursors. ARGV: role, session key prefix, lease key prefix, then the role's ids in order.
#: The id of the next one that its live owner says is WORKING (the cursor moved past it), or nil.
_PICK = """
local n = #ARGV - 3
local start = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') or 0
for step = 0, n - 1 do
  local index = (start + step) % n
  local id = ARGV[4 + index]
  local v = redis.call('HMGET', ARGV[2] .. id, 'owner', 'state')
  if v[1] and v[1] ~= '' and v[2] == 'WORKING' and redis.call('EXISTS', ARGV[3] .. v[1]) == 1 then
    redis.call('HSET', KEYS[1], ARGV[1], index + 1)
    return id
  end
end
return false
"""

#: KEYS: roles, cursors. ARGV: role, its ids as JSON ('[]' deletes it). Returns the ids it had.
_SAVE = """
local old = redis.call('HGET', KEYS[1], ARGV[1]) or '[]'
if ARGV[2] == '[]' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('HDEL', KEYS[2], ARGV[1])
return old
"""

#: KEYS: roles, cursors. ARGV: a deleted session's id. Takes it out of every role (a role left
#: empty is deleted); returns the roles it was in.
_DROP = """
local left = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, ids = pcall(cjson.decode, all[i + 1])
  if ok and type(ids) == 'table' then
    local kept, found = {}, false
    for _, id in ipairs(ids) do
      if id == ARGV[1] then found = true else kept[#kept + 1] = id end
    end
    if found then
      left[#left + 1] = all[i]
      if #kept == 0 then redis.call('HDEL', KEYS[1], all[i])
      else redis.call('HSET', KEYS[1], all[i], cjson.encode(kept)) end
      redis.call('HDEL', KEYS[2], all[i])
    end
  end
end
return left
"""


class ClusterRoleBook:
    """The roles in Redis; the node's own database keeps a copy of what the node changed."""

    def __init__(self, coord: Coordinator, local: LocalRoleBook) -> None:
        self._coord = coord
        self._local = local
        redis = coord.redis
        self._pick = redis.register_script(_PICK)
        self._save = redis.register_script(_SAVE)
        self._drop = redis.register_script(_DROP)
        self._roles_key = f"{coord.prefix}roles"
        self._cursor_key = f"{coord.prefix}rolecursor"

    async def all(self) -> dict[str, list[str]]:
        with reachable("reading the roles"):
            raw = await self._coord.redis.hgetall(self._roles_key)
        roles: dict[str, list[str]] = {}
        for role, ids in sorted((text(k), text(v)) for k, v in raw.items()):
            try:
                listed = json.loads(ids)
            except ValueError:
                continue  # not ours: never let one bad entry hide every role
            if isinstance(listed, list) and listed:
                roles[role] = [str(s) for s in listed]
        return roles

    async def save(self, role: str, sessions: list[str]) -> list[str]:
        with reachable(f"saving role {role}"):
            old = await self._save(keys=[self._roles_key, self._cursor_key],
                                   args=[role, json.dumps(sessions)])
        self._local.write(role, sessions)
        try:
            previous = json.loads(text(old))
        except ValueError:
            return []
        return [str(s) for s in previous] if isinstance(previous, list) else []

    async def existing(self, session_ids: list[str]) -> set[str]:
        if not session_ids:
            return set()
        with reachable("looking sessions up"):
            found = await self._coord.redis.smismember(f"{self._coord.prefix}sessions", session_ids)
        return {s for s, there in zip(session_ids, found, strict=True) if there}

    async def members(self, session_ids: list[str]) -> dict[str, Member]:
        """Each session's state as its owner last wrote it; ``STOPPED`` where its owner's lease
        is gone (it runs nowhere until a node takes it over) or no state was written yet."""
        views = {v.session_id: v for v in await self._coord.records(sorted(set(session_ids)))}
        members: dict[str, Member] = {}
        for session_id in session_ids:
            view = views.get(session_id)
            if view is None:
                members[session_id] = Member(None, None)
                continue
            state = view.state if view.owner_alive and view.state else "STOPPED"
            phone = view.record.get("phone_number")
            members[session_id] = Member(state, phone if isinstance(phone, str) else None)
        return members

    async def pick(self, role: str, sessions: list[str]) -> str | None:
        with reachable(f"picking a session of role {role}"):
            picked = await self._pick(keys=[self._cursor_key],
                                      args=[role, self._coord.session_key(""), self._coord.lease_key(""),
                                            *sessions])
        return text(picked) if picked else None

    async def dropped(self, session_id: str) -> list[str]:
        """A deleted session leaves every role (as one host's database does it)."""
        with reachable(f"taking session {session_id} out of the roles"):
            left = await self._drop(keys=[self._roles_key, self._cursor_key], args=[session_id])
        return [text(role) for role in left]

    async def bring(self) -> list[str]:
        """Hand this node's own roles to the cluster where it has none of that name; the roles
        added."""
        added = []
        for role, sessions in self._local.read().items():
            with reachable(f"adding role {role}"):
                if await self._coord.redis.hsetnx(self._roles_key, role, json.dumps(sessions)):
                    added.append(role)
        return added
