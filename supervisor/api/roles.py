"""Role routes: which sessions serve a role ("sales", "coordination").

    GET /api/roles          {"roles": [{"role", "sessions", "working"}]}
    GET /api/roles/{role}   {"role", "sessions", "working"}
    PUT /api/roles/{role}   {"sessions": [...]} -> the role ([] deletes it); event role.updated

Sending through a role is ``POST /api/send {"role", "to", "text"}`` (api_whatsapp).
"""

from __future__ import annotations

from aiohttp import web

from supervisor.api.httputil import check_fields, json_object
from supervisor.api.keys import ENV_FILE, ROLES

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/api/roles")
async def list_roles(request: web.Request) -> web.Response:
    """Every role with its sessions and which of them are WORKING."""
    roles = request.app[ROLES]
    return web.json_response({"roles": [roles.describe(r, s) for r, s in roles.all().items()]})


@routes.get("/api/roles/{role}")
async def get_role(request: web.Request) -> web.Response:
    """One role."""
    roles, role = request.app[ROLES], request.match_info["role"]
    return web.json_response(roles.describe(role, roles.get(role)))


@routes.put("/api/roles/{role}")
async def put_role(request: web.Request) -> web.Response:
    """Set the sessions of a role, in order (round-robin follows this order); answers once
    ``[roles] env_file`` (if any) says so too."""
    body = await json_object(request)
    check_fields(body, {"sessions": list})
    roles, role = request.app[ROLES], request.match_info["role"]
    sessions = roles.set(role, body.get("sessions"))
    await request.app[ENV_FILE].sync()
    return web.json_response(roles.describe(role, sessions))
