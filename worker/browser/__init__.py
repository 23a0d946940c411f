"""The browser layer: one session's Chrome as an OS process (find the binary, prepare the
profile, launch, drain stderr, measure, close the whole tree: ``executable``, ``profile``,
``chrome``, ``stderr``, ``proctree``) and the CDP connection to it (``cdp``).

Owns every signal sent to Chrome's processes and every use of pyppeteer's private parts
(``cdp`` only). May import the worker's foundations (``protocol``, ``errors``, ``logs``,
``prctl``); never ``drivers`` nor the service modules above it.
"""
