"""The worker: one process per session, driving one headless Chrome (asyncio + pyppeteer).

Layers, from the bottom up; a module imports only from its own layer or the ones below it
(no cycles, imports inside functions included):

- foundations: ``protocol`` (the wire contract shared with the supervisor, stdlib only),
  ``errors`` (boot failures), ``logs``, ``prctl`` (Linux process controls) and ``spec`` (the
  validated boot request, with the typed ``[whatsapp]`` options);
- ``browser/``: one session's Chrome as an OS process, and the CDP connection to it;
- ``drivers/``: what runs in the page (the basic driver, the WhatsApp driver and its bot);
- the service: ``link`` (the control socket), ``session`` (boot and close Chrome),
  ``heartbeat``, ``watchers`` (stop causes), ``driving`` (run the driver), ``ops`` (answer
  requests), ``main`` (one worker's lifecycle), ``zygote`` (forks workers) and ``__main__``.

Never imports ``supervisor`` or aiohttp: the two sides share only ``worker.protocol``.
"""
