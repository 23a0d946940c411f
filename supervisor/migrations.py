"""The state database's schema: every change, in order.

Each migration runs once, in one transaction with the new ``schema_version`` (supervisor/store.py
applies them). Append, never edit a migration that has shipped.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    desired      TEXT NOT NULL CHECK (desired IN ('running', 'stopped')),
    created_at   REAL NOT NULL,
    metadata     TEXT NOT NULL DEFAULT '{}',
    restarts     INTEGER NOT NULL DEFAULT 0,
    last_exit    TEXT,
    last_error   TEXT,
    phone_number TEXT
);
""",
    # 2: role -> sessions, in order (supervisor/roles.py owns this table).
    2: """
CREATE TABLE roles (
    role       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (role, position)
);
""",
    # 3: the event journal and the webhook outbox (supervisor/outbox.py owns these tables).
    3: """
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    event     TEXT NOT NULL,
    session   TEXT,
    timestamp REAL NOT NULL,
    payload   TEXT NOT NULL
);
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    INTEGER NOT NULL,
    session     TEXT NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     REAL NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    last_status INTEGER,
    last_error  TEXT
);
CREATE INDEX deliveries_lane ON deliveries (status, session, url, id);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE TABLE session_webhooks (
    session  TEXT NOT NULL,
    position INTEGER NOT NULL,
    url      TEXT NOT NULL,
    events   TEXT NOT NULL DEFAULT '[]',
    secret   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (session, position)
);
""",
    # 4: per-session options (proxy, send limits: JSON), and when the account first logged in
    # (the send queue's warm-up counts days from it).
    4: """
ALTER TABLE sessions ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN first_login_at REAL;
""",
    # 5: the send queue (supervisor/sending/store.py owns these tables): one row per send, and
    # the chats that wrote to each session (who is not a "new contact").
    5: """
CREATE TABLE sends (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session     TEXT NOT NULL,
    chat        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    msg_id      TEXT,
    wa_id       TEXT,
    idem_key    TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    sent_at     REAL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    held_by     TEXT,
    error_type  TEXT,
    error       TEXT,
    result      TEXT
);
CREATE INDEX sends_open ON sends (session, status, id);
CREATE INDEX sends_sent ON sends (session, sent_at);
CREATE UNIQUE INDEX sends_idem ON sends (session, idem_key) WHERE idem_key IS NOT NULL;
CREATE TABLE known_chats (
    session   TEXT NOT NULL,
    chat      TEXT NOT NULL,
    first_at  REAL NOT NULL,
    we_began  INTEGER NOT NULL,
    PRIMARY KEY (session, chat)
) WITHOUT ROWID;
""",
    # 6: the dashboard's charts (supervisor/events/history.py owns this table): per minute, per
    # session ('' for the whole daemon) and per metric, how many samples or events, their sum
    # and their largest value; rows older than [events] charts_keep_h are deleted.
    6: """
CREATE TABLE series (
    session TEXT NOT NULL,
    metric  TEXT NOT NULL,
    minute  INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    total   REAL NOT NULL,
    peak    REAL NOT NULL,
    PRIMARY KEY (session, metric, minute)
) WITHOUT ROWID;
CREATE INDEX series_age ON series (minute);
""",
    # 7: on a cluster node, each event's webhook targets ([[url, secret], ...] JSON) until the
    # relay (supervisor/cluster/relay.py) has put the event in Redis; NULL on a single host.
    7: """
ALTER TABLE events ADD COLUMN relay TEXT;
""",
    # 8: the number first_login_at belongs to (sessions/warmup.py): it outlives a logout, which
    # clears phone_number, so a different number linked later starts its own warm-up.
    8: """
ALTER TABLE sessions ADD COLUMN first_login_phone TEXT;
UPDATE sessions SET first_login_phone = phone_number WHERE first_login_at IS NOT NULL;
""",
}
