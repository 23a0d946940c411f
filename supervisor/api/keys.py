"""Typed keys for what the aiohttp application carries."""

from __future__ import annotations

from aiohttp import web

from supervisor.hub import Hub
from supervisor.sending.queues import SendQueues
from supervisor.sessions.pressure import HostCpu
from supervisor.sessions.registry import Registry
from supervisor.sessions.roleenv import RoleEnvFile
from supervisor.sessions.roles import Roles

__all__ = ["API_KEY", "BODY_TIMEOUT", "ENV_FILE", "HOST_CPU", "HUB", "REGISTRY", "ROLES", "SENDS", "STARTED_AT"]

REGISTRY = web.AppKey("registry", Registry)
API_KEY = web.AppKey("api_key", str)
STARTED_AT = web.AppKey("started_at", float)
HUB = web.AppKey("hub", Hub)  # events, webhooks, metrics
ROLES = web.AppKey("roles", Roles)  # role -> sessions, and the send router
HOST_CPU = web.AppKey("host_cpu", HostCpu)  # the host's CPU share, for /api/stats
ENV_FILE = web.AppKey("env_file", RoleEnvFile)  # [roles] env_file, rewritten at role changes
BODY_TIMEOUT = web.AppKey("body_timeout_s", float)  # [server] body_timeout_s
SENDS = web.AppKey("sends", SendQueues)  # every session's send queue
