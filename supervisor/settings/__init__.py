"""The sections of ``config.toml``: one frozen dataclass each, with its defaults, that checks
its own values when it is built (``__post_init__``). ``supervisor.config`` reads the file and the
environment into these; a broken rule raises :class:`InvalidValue`, which the loader turns into
a ConfigError naming the section, the key and where the value came from.

One module per group of sections (``daemon``, ``sessions``, ``whatsapp``, ``media``, ``sending``, ``events``,
``cluster``), the shared
rules in ``rules``; every name is re-exported here.
"""

from __future__ import annotations

from supervisor.settings.cluster import ClusterConfig, SnapshotsConfig
from supervisor.settings.daemon import LoggingConfig, ServerConfig, StateConfig
from supervisor.settings.events import EventsConfig, RolesConfig, WebhooksConfig
from supervisor.settings.media import MediaConfig
from supervisor.settings.rules import EVENT_PATTERN, SESSION_ID_RE, InvalidValue
from supervisor.settings.sending import SendingConfig
from supervisor.settings.sessions import ChromeConfig, LimitsConfig, SessionsConfig
from supervisor.settings.whatsapp import WhatsAppConfig

__all__ = [
    "EVENT_PATTERN",
    "SESSION_ID_RE",
    "ChromeConfig",
    "ClusterConfig",
    "EventsConfig",
    "InvalidValue",
    "LimitsConfig",
    "LoggingConfig",
    "MediaConfig",
    "RolesConfig",
    "SendingConfig",
    "ServerConfig",
    "SessionsConfig",
    "SnapshotsConfig",
    "StateConfig",
    "WebhooksConfig",
    "WhatsAppConfig",
]
