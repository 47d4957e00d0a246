"""The webhooks' settings (config/settings.py, WEBHOOKS_*), read at call time."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

# The event every endpoint receives on demand, whatever it subscribes to.
PING_EVENT = "ping"
# An attempt's lease: connect and read timeouts plus name resolution, with a margin. An
# attempt whose worker died is taken up again after it; the task's hard limit is below it.
ATTEMPT_LEASE_SECONDS = 120
# A delivery whose task message went out this long ago without an attempt is queued again.
REQUEUE_AFTER_SECONDS = 300
# Due deliveries queued by one run of the periodic requeue.
REQUEUE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    allow_http_localhost: bool
    retry_schedule: tuple[int, ...]
    connect_timeout: float
    read_timeout: float
    secret_grace_seconds: int
    max_endpoints: int
    secret_keys: tuple[str, ...]

    @property
    def max_attempts(self) -> int:
        """The first attempt and one per step of the retry schedule."""
        return len(self.retry_schedule) + 1


def webhook_settings() -> WebhookSettings:
    return WebhookSettings(
        allow_http_localhost=bool(settings.DEBUG or settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST),
        retry_schedule=tuple(max(1, int(s)) for s in settings.WEBHOOKS_RETRY_SCHEDULE),
        connect_timeout=settings.WEBHOOKS_CONNECT_TIMEOUT,
        read_timeout=settings.WEBHOOKS_READ_TIMEOUT,
        secret_grace_seconds=max(0, settings.WEBHOOKS_SECRET_GRACE_SECONDS),
        max_endpoints=settings.WEBHOOKS_MAX_ENDPOINTS,
        secret_keys=tuple(key for key in settings.WEBHOOKS_SECRET_KEYS if key),
    )
