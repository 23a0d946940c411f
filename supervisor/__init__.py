"""zapvisor's supervisor: the daemon (``zapvisor serve``), its HTTP API and its CLI.

Layers, each importing only those below it::

    cli/        the command line: a client of the API (and ``serve``)
    daemon      start-up and shutdown: composes everything below
    api/        the HTTP API and the dashboard
    hub, metrics  the daemon's shared parts (bus, outbox, webhooks, metrics, registry)
    sessions/   sessions: state machine, supervision, lifecycle, housekeeping
    events/     the event bus, webhook outbox and deliveries
    procs/      worker processes: spawn, talk, watch, reap
    base        config, settings, layout, store, states, errors, logs, aio, apikey, systemd

Never imports pyppeteer; the only module shared with the worker is ``worker.protocol``.
"""
