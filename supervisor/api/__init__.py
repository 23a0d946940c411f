"""The HTTP control API and the dashboard (aiohttp).

``app`` builds the application (middlewares: key, body size, errors as JSON); ``keys`` holds the
app keys through which handlers reach the daemon's parts; one module per route group
(``sessions``, ``whatsapp``, ``roles``, ``events``, ``webhooks``, ``health``, ``legacy`` for
the replaced systems' routes, ``dashboard`` with its ``static/`` files, ``openapi`` with the
document and its ``docs/`` page); ``spec`` declares each route once (``@operation``: the schemas
that check its request, its answers, its error types), ``schemas`` holds the shared schemas,
``views`` the session objects, ``httputil`` reads JSON bodies and the Accept header. May import
every layer below it (sessions, events, procs, and the base modules); nothing below imports it.
"""
