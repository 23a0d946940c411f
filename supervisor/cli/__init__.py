"""The ``zapvisor`` command line (click).

``main`` builds the group, ``serve`` and ``completion``; every other command is a thin client
of the HTTP API, one module per family (``sessions``, ``whatsapp``, ``queue``, ``events``,
``webhooks``), sharing ``common`` (config, connection options, the key), ``output`` (what
people see) and ``client`` (urllib, server-sent events included). May import: config, apikey,
errors, logs, settings; ``serve`` alone reaches the daemon, ``doctor`` alone ``supervisor.doctor``
(both lazily). Never imports the API or the session layers.
"""
