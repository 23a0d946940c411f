"""PageServer: a tiny local web server for tests that point Chrome at a page.

    with PageServer() as server:
        url = server.url("/")          # http://127.0.0.1:<port>/

Routes:
    /      a simple HTML page titled "zapvisor test page"
    /hang  never answers (until the server shuts down): a page load that times out
    /big   a page whose script allocates some memory (about 50 MB of arrays)
    /heap  a page that reports its V8 heap limit (performance.memory.jsHeapSizeLimit) back:
           the server keeps each in ``heap_limits``

The aiohttp app runs on its own event loop in a background thread, so it works from both
sync and async tests.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from aiohttp import web

TITLE = "zapvisor test page"

_INDEX = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{TITLE}</title></head>
<body><h1>{TITLE}</h1><p id="status">ready</p></body></html>
"""

_HEAP = """<!doctype html>
<html><head><meta charset="utf-8"><title>heap page</title></head>
<body><p>heap</p><script>
fetch('/heap-limit?bytes=' + performance.memory.jsHeapSizeLimit);
</script></body></html>
"""

_BIG = """<!doctype html>
<html><head><meta charset="utf-8"><title>big page</title></head>
<body><p>big</p><script>
window.hog = [];
for (let i = 0; i < 50; i++) { window.hog.push(new Array(1024 * 128).fill(i)); }
</script></body></html>
"""


class PageServer:
    """Context manager serving the test pages on 127.0.0.1 at a random free port."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="page-server", daemon=True)
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None
        self.port = 0
        self.user_agents: list[str] = []  # User-Agent of every request to "/", in order
        self.heap_limits: list[int] = []  # what every /heap page reported, in order

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> PageServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/hang", self._hang)
        app.router.add_get("/big", self._big)
        app.router.add_get("/heap", self._heap)
        app.router.add_get("/heap-limit", self._heap_limit)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        assert self._release is not None and self._runner is not None
        self._release.set()
        await self._runner.cleanup()

    async def _index(self, request: web.Request) -> web.Response:
        self.user_agents.append(request.headers.get("User-Agent", ""))
        return web.Response(text=_INDEX, content_type="text/html")

    async def _big(self, request: web.Request) -> web.Response:
        return web.Response(text=_BIG, content_type="text/html")

    async def _heap(self, request: web.Request) -> web.Response:
        return web.Response(text=_HEAP, content_type="text/html")

    async def _heap_limit(self, request: web.Request) -> web.Response:
        self.heap_limits.append(int(request.query["bytes"]))
        return web.Response(text="ok", content_type="text/plain")

    async def _hang(self, request: web.Request) -> web.Response:
        assert self._release is not None
        await self._release.wait()
        return web.Response(text="released", content_type="text/plain")
