"""Events: the in-process bus with its history (``bus``), the SQLite outbox of webhook
deliveries (``outbox``), their sending with retries (``delivery``) and which webhooks receive
what (``webhooks``).

May import only the base modules (config, settings, store, errors, logs); sessions publish into
the bus, never the other way round.
"""
