"""The web dashboard: a page served by the daemon itself, with its assets from the package.

    GET /  /sessions  /sessions/{id}    the dashboard (one page; the browser routes between views)
    GET /cluster                        the same page (its cluster view: a node of a cluster)
    GET /static/{name}                  its assets (supervisor/api/static/, flat, no build step)

``/sessions`` and ``/sessions/{id}`` are also zapnode's JSON routes (api/legacy.py routes them):
the page goes only to a client whose Accept ranks ``text/html`` first (a browser, see
:func:`is_page`); anyone else gets JSON, and needs the key.

These routes are open without the API key (declared public): the page holds no secret and
the server never puts the key in it. The key is typed into the page's login form, kept in the
browser's sessionStorage, and sent by the page's own requests (``X-Api-Key``) to ``/api/…``,
which stay protected; the event stream is read with ``fetch`` for the same reason (an
``EventSource`` cannot send headers, and a key in a URL ends up in logs).
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from supervisor.api.assets import Assets
from supervisor.api.httputil import prefers_html
from supervisor.api.spec import Answer, operation
from supervisor.errors import NotFound

__all__ = ["PAGE", "STATIC_DIR", "is_page", "page", "routes"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
_SECURITY = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate every time (Last-Modified): an upgraded daemon never serves stale scripts.
    "Cache-Control": "no-cache",
}
_ASSETS = Assets(STATIC_DIR, _SECURITY)
_ID = "[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_NEGOTIATED = re.compile(rf"/sessions(?:/{_ID})?")
#: The dashboard's page, as a response of the routes that serve it.
PAGE = Answer("The dashboard's page", media={"text/html": {"type": "string"}})

routes = web.RouteTableDef()


def is_page(request: web.Request) -> bool:
    """True for a GET or HEAD of a dashboard page: ``/``, ``/cluster``, or ``/sessions[/{id}]``
    asked for by a browser."""
    if request.method not in ("GET", "HEAD"):
        return False
    return request.path in ("/", "/cluster") or (_NEGOTIATED.fullmatch(request.path) is not None
                                   and prefers_html(request))


@routes.get("/")
@operation(public=True, tags=["dashboard"], responses={200: PAGE})
async def page(request: web.Request) -> web.FileResponse:
    """The dashboard's page; the browser shows the view of its address."""
    return _ASSETS.response("index.html", "dashboard")


@routes.get("/cluster")
@operation(public=True, tags=["dashboard"], responses={200: PAGE})
async def cluster_page(request: web.Request) -> web.FileResponse:
    """The dashboard's page, at its cluster view's address (on a single host the view says
    that there is no cluster)."""
    return _ASSETS.response("index.html", "dashboard")


@routes.get("/static/{name}")
@operation(public=True, tags=["dashboard"], errors=[NotFound], responses={200: Answer(
    "The file", media=_ASSETS.media())})
async def asset(request: web.Request) -> web.FileResponse:
    """One of the dashboard's files."""
    return _ASSETS.response(request.match_info["name"], "dashboard")
