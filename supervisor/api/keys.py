"""Typed keys for what the aiohttp application carries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from supervisor.api.jsoncache import KeptJson
from supervisor.hub import Hub
from supervisor.sending.queues import SendQueues
from supervisor.sessions.pressure import HostFigures
from supervisor.sessions.registry import Registry
from supervisor.sessions.roleenv import RoleEnvFile
from supervisor.sessions.roles import Roles

if TYPE_CHECKING:
    from supervisor.cluster.node import ClusterNode

__all__ = ["API_KEY", "BODY_TIMEOUT", "CLUSTER", "ENV_FILE", "HOST", "HUB", "LISTING", "REGISTRY", "ROLES", "SENDS", "STARTED_AT"]

REGISTRY = web.AppKey("registry", Registry)
API_KEY = web.AppKey("api_key", str)
STARTED_AT = web.AppKey("started_at", float)
HUB = web.AppKey("hub", Hub)  # events, webhooks, metrics
ROLES = web.AppKey("roles", Roles)  # role -> sessions, and the send router
HOST = web.AppKey("host", HostFigures)  # the host's figures, for /api/stats and the listing
ENV_FILE = web.AppKey("env_file", RoleEnvFile)  # [roles] env_file, rewritten at role changes
BODY_TIMEOUT = web.AppKey("body_timeout_s", float)  # [server] body_timeout_s
SENDS = web.AppKey("sends", SendQueues)  # every session's send queue
LISTING = web.AppKey("listing", KeptJson)  # each session's JSON, kept for the listing
#: This node of a cluster ([cluster] redis_url set; absent otherwise). Typed only for the
#: checker: a single host never imports the cluster's modules (nor redis).
CLUSTER: web.AppKey[ClusterNode] = web.AppKey("cluster")
