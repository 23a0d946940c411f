"""A zapvisor cluster: nodes that share one Redis (issue 17; ``[cluster] redis_url``).

- ``views``: what the cluster knows of a node and of a session (plain data, no Redis).
- ``placement``: which node a new session goes to (a pure function of the nodes' views).
- ``coord``: membership (leases), ownership with fencing tokens, the cluster's key, in Redis.
- ``scripts``: the Lua that makes each ownership change atomic.
- ``lease``: the task that keeps this node's lease and says until when it surely holds.
- ``node``: this daemon as a node (lease, verify, workers' leases, fencing, drain, what the API
  asks); ``gate``: the claim before each start and the snapshot after each orderly close;
  ``failover``: orphans taken over, draining.
- ``snapshots`` (save, restore, prune a session's login: the public API), ``archive`` (which
  profile files hold the login, and the tar that carries them, verified before anything is
  written), ``profilelock`` (is a Chrome still using the profile), ``snapstore`` (the store
  interface and its shared-directory backend) and ``s3store`` (its S3 backend, boto3).

Only the modules that talk to Redis import ``redis`` (boto3: ``s3store``), and nothing outside
this package imports them at module level: a single-host daemon never loads either client.
"""

from __future__ import annotations

__all__ = ["FORWARDED_BY"]

#: The header of a request one node sends another (with the cluster's key): answered there,
#: never forwarded again.
FORWARDED_BY = "X-Zapvisor-Forwarded-By"
