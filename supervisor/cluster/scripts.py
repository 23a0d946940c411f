"""The Lua scripts of the coordinator: each ownership decision reads and writes in one atomic
step on the Redis server (a script runs alone), so two nodes can never both win a session.

Conventions: ``ARGV`` strings; a session's key is ``<prefix>session:<id>`` (hash: ``owner``,
``token``, ``record``); a node's lease is ``<prefix>lease:<node>`` (string: the incarnation,
with a TTL). Tokens are compared as the decimal strings HINCRBY stores. Time comes from the
server's TIME, never from a node's clock.
"""

from __future__ import annotations

__all__ = ["CLAIM", "DISOWN", "FORGET_NODE", "NODES", "READ", "RELEASE", "RENEW", "SET_NODE_WORD", "VERIFY",
           "WRITE"]

#: KEYS: lease, nodes. ARGV: node, incarnation, lease_ms, info JSON.
#: Sets the lease with its TTL and the node's entry, stamped with Redis time; keeps
#: ``started_at`` while the incarnation is the same, and ``draining`` and ``tags`` (the cluster's
#: word, set by ``node drain`` and ``node tag`` from any node) always. Returns the entry as stored.
RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local info = cjson.decode(ARGV[4])
local started, draining, tags = now, false, nil
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  local ok, prev = pcall(cjson.decode, old)
  if ok and type(prev) == 'table' then
    if prev['incarnation'] == ARGV[2] and type(prev['started_at']) == 'number' then
      started = prev['started_at']
    end
    draining = prev['draining'] == true
    if type(prev['tags']) == 'table' and #prev['tags'] > 0 then tags = prev['tags'] end
  end
end
info['incarnation'] = ARGV[2]
info['started_at'] = started
info['renewed_at'] = now
info['draining'] = draining
info['tags'] = tags
local stored = cjson.encode(info)
redis.call('HSET', KEYS[2], ARGV[1], stored)
return stored
"""

#: KEYS: nodes. ARGV: lease key prefix. Returns {now, node1, entry1, pttl1, node2, …}.
NODES = """
local t = redis.call('TIME')
local out = {t[1] .. '.' .. string.format('%06d', tonumber(t[2]))}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  out[#out + 1] = all[i]
  out[#out + 1] = all[i + 1]
  out[#out + 1] = redis.call('PTTL', ARGV[1] .. all[i])
end
return out
"""

#: KEYS: session, sessions set, this node's lease, orphans set. ARGV: node, incarnation, takeover
#: ('1'/'0'), record JSON ('' = keep), session id, lease key prefix, owned-set key prefix, floor
#: (the new token is above it: after Redis lost its data, tokens go on from the node's own).
#: Returns the new token; 0 when another node owns the session (and may keep it); -1 when this
#: node's own lease is not this incarnation's live lease (a node that may have been presumed
#: dead claims nothing).
CLAIM = """
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return -1 end
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then
  if ARGV[3] ~= '1' or redis.call('EXISTS', ARGV[6] .. owner) == 1 then return 0 end
end
if owner ~= ARGV[1] then
  if owner then redis.call('SREM', ARGV[7] .. owner, ARGV[5]) end
  redis.call('HDEL', KEYS[1], 'state')  -- the previous owner's word on it no longer holds
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
local token = redis.call('HINCRBY', KEYS[1], 'token', 1)
if token <= tonumber(ARGV[8]) then
  token = tonumber(ARGV[8]) + 1
  redis.call('HSET', KEYS[1], 'token', token)
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'record', ARGV[4]) end
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('SADD', ARGV[7] .. ARGV[1], ARGV[5])
redis.call('SREM', KEYS[4], ARGV[5])
return token
"""

#: KEYS: the cluster key, this node's mark. ARGV: node, session key prefix, then id1, token1,
#: id2, token2, … Returns {stale, missing, key, marked}: the ids whose (owner, token) is no
#: longer (node, token), one HMGET per session; of those, the ids Redis knows nothing of (no
#: token: never handed out, or lost with Redis's data); the cluster key; and 1 while this node's
#: mark (set as it joins, never deleted) exists. A key or mark gone: Redis lost its data.
VERIFY = """
local stale, missing = {}, {}
for i = 3, #ARGV, 2 do
  local v = redis.call('HMGET', ARGV[2] .. ARGV[i], 'owner', 'token')
  if not v[2] then missing[#missing + 1] = ARGV[i]
  elseif v[1] ~= ARGV[1] or v[2] ~= ARGV[i + 1] then stale[#stale + 1] = ARGV[i] end
end
return {stale, missing, redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[2])}
"""

#: ARGV: session key prefix, lease key prefix, then ids. Returns {id, owner, token, record, alive,
#: state, …} per id (owner, token, record, state nil when missing; alive 1 while the owner's
#: lease exists).
READ = """
local out = {}
for i = 3, #ARGV do
  local v = redis.call('HMGET', ARGV[1] .. ARGV[i], 'owner', 'token', 'record', 'state')
  local alive = 0
  if v[1] then alive = redis.call('EXISTS', ARGV[2] .. v[1]) end
  out[#out + 1] = ARGV[i]
  out[#out + 1] = v[1]
  out[#out + 1] = v[2]
  out[#out + 1] = v[3]
  out[#out + 1] = alive
  out[#out + 1] = v[4]
end
return out
"""

#: KEYS: session. ARGV: node, token, record JSON. 1 if written, 0 if the token is stale.
WRITE = """
local v = redis.call('HMGET', KEYS[1], 'owner', 'token')
if v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'record', ARGV[3])
return 1
"""

#: KEYS: session, sessions set, this node's owned set, orphans set. ARGV: node, token, session
#: id. 1 if deleted, 0 if stale.
#: The token stays behind (a few bytes): a session created again under the same id goes on
#: from it, so no token is ever handed out twice for one id (snapshots are named by token).
RELEASE = """
local v = redis.call('HMGET', KEYS[1], 'owner', 'token')
if v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], 'owner', 'record', 'state')
redis.call('SREM', KEYS[2], ARGV[3])
redis.call('SREM', KEYS[3], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[3])
return 1
"""

#: KEYS: session, this node's owned set, orphans set. ARGV: node, token, record JSON, session
#: id. 1 if handed over, 0 if the token is stale.
#: The owner becomes '' (no lease key is ever named so: the session is an orphan at once, for
#: another node to take over) and the record is replaced; the token stays and grows on.
DISOWN = """
local v = redis.call('HMGET', KEYS[1], 'owner', 'token')
if v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'owner', '', 'record', ARGV[3])
redis.call('SREM', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""

#: KEYS: nodes. ARGV: node, field, value JSON. Sets one of the cluster's words on a node's entry
#: (``draining``, ``tags``), kept by its renewals; null or an empty list removes it (cjson would
#: write an empty list back as {}). 1 if set, 0 if the node never registered.
SET_NODE_WORD = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local ok, info = pcall(cjson.decode, old)
if not ok or type(info) ~= 'table' then info = {} end
local value = cjson.decode(ARGV[3])
if value == cjson.null or (type(value) == 'table' and next(value) == nil) then value = nil end
info[ARGV[2]] = value
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(info))
return 1
"""

#: KEYS: nodes, the node's lease, its owned set, its mark. ARGV: node. Drops a retired node's
#: entry: 1 done; 0 never registered; -1 its lease is alive; -2 it still owns sessions (they
#: have not been taken over yet).
FORGET_NODE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if redis.call('SCARD', KEYS[3]) > 0 then return -2 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
return 1
"""
