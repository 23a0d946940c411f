"""Sessions: each one's state machine and supervision loop, and what surrounds them.

``registry`` (every session, lifecycle operations, limits, start queue) owns ``session`` (one
session: state machine, worker loop), which uses ``exits`` (what follows an exit), ``backoff``,
``bootspec``, ``resources``; ``pressure`` (host memory and disk), ``profiles`` (deleting a
session's files), ``housekeeping`` (periodic checks, recycling, the systemd watchdog),
``messaging`` (WhatsApp requests to a session), ``roles`` and ``roleenv`` (the roles' dotenv
file, edited by ``dotenv``). May import procs, events and the base modules (config, store,
states, errors, logs); never the API or the CLI.
"""
