"""The ``zapvisor`` command line (click).

``main`` builds the group and ``serve``; every other command is a thin client of the HTTP API,
one module per family (``sessions``, ``whatsapp``), sharing ``common`` (connection options,
printers) and ``client`` (urllib). May import: config, apikey, errors, logs; ``serve`` alone
reaches the daemon. Never imports the API or the session layers.
"""
