"""The Lua scripts of the cluster's events (cluster/relay.py, cluster/shards.py): each one reads
and writes in one atomic step on the Redis server.

Keys (prefix ``zv:``): ``events`` (the stream every node's SSE reads), ``published`` (hash node
-> the last local event id it put in the stream), ``deliveries:{k}`` (shard stream k of webhook
deliveries, consumer group ``webhooks``), ``shard:{k}`` (string "<node> <incarnation>", PX: who
delivers shard k).
"""

from __future__ import annotations

__all__ = ["FETCH", "PUBLISH", "SHARDS"]

#: KEYS: events stream, published hash. ARGV: node, maxlen, deliveries prefix, then per event:
#: local id, event JSON, shard ('' when it has no receiver), targets JSON.
#: Appends the events this node did not append before (local id above ``published[node]``: a
#: batch sent again after a lost answer is not appended twice); each with receivers also goes to
#: its shard stream with the id it got in the events stream (and the events stream's entry names
#: the shard: only the node delivering it reads the shard then). Returns {previous, last} local ids.
PUBLISH = """
local prev = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local last = prev
for i = 4, #ARGV, 4 do
  local lid = tonumber(ARGV[i])
  if lid > last then
    local fields = {'node', ARGV[1], 'lid', ARGV[i], 'event', ARGV[i + 1]}
    if ARGV[i + 2] ~= '' then
      fields[#fields + 1] = 'shard'
      fields[#fields + 1] = ARGV[i + 2]
    end
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
    if ARGV[i + 2] ~= '' then
      redis.call('XADD', ARGV[3] .. ARGV[i + 2], '*', 'id', id, 'node', ARGV[1],
                 'event', ARGV[i + 1], 'targets', ARGV[i + 3])
    end
    last = lid
  end
end
if last ~= prev then redis.call('HSET', KEYS[2], ARGV[1], last) end
return {prev, last}
"""

#: ARGV: shard lease prefix, holder ("<node> <incarnation>"), lease ms, group, deliveries prefix,
#: one code per shard ('w': take it if free, renew it if held; 'r': let it go if held; '-':
#: leave it). A shard taken gets its consumer group (from the start of its stream) if it has
#: none. Returns {held shards, shards taken now}.
SHARDS = """
local held, taken = {}, {}
for k = 0, #ARGV[6] - 1 do
  local code = string.sub(ARGV[6], k + 1, k + 1)
  local key = ARGV[1] .. k
  local holder = redis.call('GET', key)
  if code == 'w' then
    if holder == ARGV[2] then
      redis.call('PEXPIRE', key, ARGV[3])
      held[#held + 1] = k
    elseif not holder then
      redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
      pcall(redis.call, 'XGROUP', 'CREATE', ARGV[5] .. k, ARGV[4], '0', 'MKSTREAM')
      held[#held + 1] = k
      taken[#taken + 1] = k
    end
  elseif code == 'r' and holder == ARGV[2] then
    redis.call('DEL', key)
  end
end
return {held, taken}
"""

#: ARGV: shard lease prefix, holder, group, consumer, deliveries prefix, count, then shards.
#: New entries of each shard this holder still holds (a node that lost a shard reads nothing
#: more of it: what it read before stays pending, for the next holder to claim). A group lost
#: with a Redis that kept no data is made again. Returns {shard, entries, shard, entries, …}.
FETCH = """
local out = {}
for i = 7, #ARGV do
  local k = ARGV[i]
  if redis.call('GET', ARGV[1] .. k) == ARGV[2] then
    local stream = ARGV[5] .. k
    local ok, res = pcall(redis.call, 'XREADGROUP', 'GROUP', ARGV[3], ARGV[4], 'COUNT', ARGV[6],
                          'STREAMS', stream, '>')
    if not ok then
      redis.call('XGROUP', 'CREATE', stream, ARGV[3], '0', 'MKSTREAM')
      res = redis.call('XREADGROUP', 'GROUP', ARGV[3], ARGV[4], 'COUNT', ARGV[6], 'STREAMS', stream, '>')
    end
    if res then
      out[#out + 1] = k
      out[#out + 1] = res[1][2]
    end
  end
end
return out
"""
