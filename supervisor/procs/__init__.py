"""OS processes: starting workers (``spawner``: the zygote or a fresh exec), talking to and
watching one worker (``process``), and ending marked processes whose owner is gone (``reaper``).

Knows nothing of sessions: may import only errors, logs and ``worker.protocol``.
"""
