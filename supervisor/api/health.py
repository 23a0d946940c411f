"""Health routes, open without the API key (for systemd, load balancers, monitors).

``/health`` is liveness: the event loop answers. ``/health/ready`` is readiness: 200 while new
sessions may start, 503 with the reason while the host is short of memory or disk, while it
is starved of CPU (supervisor.sessions.liveness), or while the daemon shuts down.
"""

from __future__ import annotations

from aiohttp import web

from supervisor.api.keys import REGISTRY
from supervisor.api.schemas import BOOL, HOST_STARVED, INT, STR, nullable, obj
from supervisor.api.spec import Answer, operation

__all__ = ["routes"]

routes = web.RouteTableDef()
_READY = obj({"ready": BOOL, "reason": nullable(STR), "available_memory_mb": INT,
              "free_disk_mb": INT, "host_starved": HOST_STARVED})


@routes.get("/health")
@operation(public=True, tags=["health"], responses={
    200: Answer("The daemon answers", schema=obj({"status": {"const": "ok"}}))})
async def health(request: web.Request) -> web.Response:
    """Liveness: the daemon's loop answers."""
    return web.json_response({"status": "ok"})


@routes.get("/health/ready")
@operation(public=True, tags=["health"], responses={
    200: Answer("Ready: new sessions may start", schema=_READY),
    503: Answer("Not ready: reason says why", schema=_READY)})
async def ready(request: web.Request) -> web.Response:
    """Readiness: may a new session start now?"""
    registry = request.app[REGISTRY]
    pressure = registry.pressure
    host = registry.host.status()
    starved = "host starved: " + "; ".join(host["reasons"]) if host["starved"] else ""
    reason = "shutting down" if registry.closing else pressure.reason or starved
    body = {
        "ready": not reason,
        "reason": reason or None,
        "available_memory_mb": round(pressure.available_memory_mb),
        "free_disk_mb": round(pressure.free_disk_mb),
        "host_starved": host,
    }
    return web.json_response(body, status=503 if reason else 200)
