"""Celery tasks of webhooks: thin wrappers that take ids and call webhooks/services.py."""

from __future__ import annotations

from celery import shared_task

from webhooks import services

# One attempt: name resolution, connect (3 s) and read (10 s) timeouts. The hard limit
# stays below the attempt's lease (conf.ATTEMPT_LEASE_SECONDS), so a killed attempt's
# lease ends after the task did.
SEND_SOFT_TIME_LIMIT = 60
SEND_TIME_LIMIT = 90


@shared_task(
    name="webhooks.delivery_send",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=SEND_SOFT_TIME_LIMIT,
    time_limit=SEND_TIME_LIMIT,
)
def webhook_delivery_send(delivery_id: int) -> str | None:
    """One attempt of a delivery if it is due (retries are queued by the periodic requeue)."""
    delivery = services.webhook_delivery_attempt(delivery_id=delivery_id)
    return None if delivery is None else delivery.status


@shared_task(name="webhooks.deliveries_requeue", ignore_result=True, soft_time_limit=50, time_limit=60)
def webhook_deliveries_requeue() -> int:
    """Periodic (beat, every WEBHOOKS_REQUEUE_INTERVAL seconds)."""
    return services.webhook_deliveries_requeue()
