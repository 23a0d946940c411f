"""The HTTP control API and the dashboard (aiohttp).

``app`` builds the application (middlewares: key, body size, errors as JSON); ``keys`` holds the
app keys through which handlers reach the daemon's parts; one module per route group
(``sessions``, ``whatsapp``, ``roles``, ``events``, ``webhooks``, ``health``, ``legacy`` for
the replaced systems' routes, ``dashboard`` with its ``static/`` files); ``httputil`` reads and
checks JSON bodies and the Accept header. May import every layer below it (sessions, events,
procs, and the base modules); nothing below imports it.
"""
