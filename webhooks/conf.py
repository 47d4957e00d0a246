"""The webhooks' settings, each declared once (core.appsettings). See docs/webhooks.md.

config/settings.py reads them from the environment (WEBHOOKS_*); they are read on each call, so
``override_settings`` in tests and a changed setting are seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from core.appsettings import load, non_empty, setting

# The event every endpoint receives on demand, whatever it subscribes to.
PING_EVENT = "ping"
# An attempt's lease: connect and read timeouts plus name resolution, with a margin. An
# attempt whose worker died is taken up again after it; the task's hard limit is below it.
ATTEMPT_LEASE_SECONDS = 120
# A delivery whose task message went out this long ago without an attempt is queued again.
REQUEUE_AFTER_SECONDS = 300
# Due deliveries queued by one run of the periodic requeue.
REQUEUE_BATCH = 1000


def _retry_delays(delays: list[int]) -> tuple[int, ...]:
    return tuple(max(1, int(delay)) for delay in delays)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    # Endpoints must be https on public addresses; this (or DEBUG) also allows http://localhost and
    # http://127.0.0.1 receivers, for development and tests.
    http_localhost_allowed: bool = setting("WEBHOOKS_ALLOW_HTTP_LOCALHOST", default=False)
    # Seconds before each retry (jittered); the delivery fails after the last one.
    retry_schedule: tuple[int, ...] = setting(
        "WEBHOOKS_RETRY_SCHEDULE", default=[60, 300, 1800, 7200, 21600, 43200], clean=_retry_delays
    )
    connect_timeout: float = setting("WEBHOOKS_CONNECT_TIMEOUT", default=3.0)
    read_timeout: float = setting("WEBHOOKS_READ_TIMEOUT", default=10.0)
    # After a rotation the previous secret still signs deliveries this long (seconds; 0: not at all).
    secret_grace_seconds: int = setting("WEBHOOKS_SECRET_GRACE_SECONDS", default=86400, minimum=0)
    max_endpoints: int = setting("WEBHOOKS_MAX_ENDPOINTS", default=10)
    # Fernet keys (newest first) encrypting endpoint secrets at rest; empty: derived from SECRET_KEY.
    secret_keys: tuple[str, ...] = setting("WEBHOOKS_SECRET_KEYS", default=[], clean=non_empty)

    @property
    def allow_http_localhost(self) -> bool:
        return bool(settings.DEBUG or self.http_localhost_allowed)

    @property
    def max_attempts(self) -> int:
        """The first attempt and one per step of the retry schedule."""
        return len(self.retry_schedule) + 1


def webhook_settings() -> WebhookSettings:
    return load(WebhookSettings)
