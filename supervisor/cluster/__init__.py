"""A zapvisor cluster: nodes that share one Redis (issue 17; ``[cluster] redis_url``).

- ``views``: what the cluster knows of a node and of a session (plain data, no Redis).
- ``placement``: which node a new session goes to (a pure function of the nodes' views).
- ``coord``: membership (leases), ownership with fencing tokens, the cluster's key, in Redis.
- ``scripts``: the Lua that makes each ownership change atomic.
- ``lease``: the task that keeps this node's lease and says until when it surely holds.
- ``node``: this daemon as a node (lease, verify, workers' leases, fencing, drain, what the API
  asks); ``gate``: the claim before each start and the snapshot after each orderly close;
  ``failover``: orphans taken over, draining; ``snapshots``: profiles between hosts.

Only the modules that talk to Redis import ``redis``, and nothing outside this package imports
them at module level: a single-host daemon never loads the Redis client.
"""

from __future__ import annotations

__all__ = ["FORWARDED_BY"]

#: The header of a request one node sends another (with the cluster's key): answered there,
#: never forwarded again.
FORWARDED_BY = "X-Zapvisor-Forwarded-By"
