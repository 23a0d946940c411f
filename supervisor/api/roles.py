"""Role routes: which sessions serve a role ("sales", "coordination").

    GET /api/roles          {"roles": [{"role", "sessions", "working"}]}
    GET /api/roles/{role}   {"role", "sessions", "working"}
    PUT /api/roles/{role}   {"sessions": [...]} -> the role ([] deletes it); event role.updated

Sending through a role is ``POST /api/send {"role", "to", "text"}`` (api_whatsapp).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from supervisor.api import schemas as sc
from supervisor.api.keys import ENV_FILE, ROLES
from supervisor.api.spec import Answer, operation

__all__ = ["routes"]

routes = web.RouteTableDef()
#: A role as the API shows it.
ROLE = sc.obj({"role": sc.STR, "sessions": sc.array(sc.STR),
               "working": {**sc.array(sc.STR), "description": "its WORKING sessions"}})


@routes.get("/api/roles")
@operation(tags=["roles"], responses={200: Answer("The roles", schema=sc.obj({"roles": sc.array(ROLE)}))})
async def list_roles(request: web.Request) -> web.Response:
    """Every role with its sessions and which of them are WORKING."""
    roles = request.app[ROLES]
    return web.json_response({"roles": [await roles.describe(r, s) for r, s in (await roles.all()).items()]})


@routes.get("/api/roles/{role}")
@operation(tags=["roles"], responses={200: Answer("The role (no sessions: none set)", schema=ROLE)})
async def get_role(request: web.Request) -> web.Response:
    """One role."""
    roles, role = request.app[ROLES], request.match_info["role"]
    return web.json_response(await roles.describe(role, await roles.get(role)))


@routes.put("/api/roles/{role}")
@operation(tags=["roles"], body=sc.body({"sessions": {
    **sc.array(sc.SESSION_ID, uniqueItems=True), "description": "session ids, in order; [] deletes the role"}},
    required=["sessions"]), responses={200: Answer("The role", schema=ROLE)})
async def put_role(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Set the sessions of a role, in order (round-robin follows this order); answers once
    ``[roles] env_file`` (if any) says so too."""
    roles, role = request.app[ROLES], request.match_info["role"]
    sessions, _ = await roles.set(role, body.get("sessions"))
    await request.app[ENV_FILE].sync()
    return web.json_response(await roles.describe(role, sessions))
