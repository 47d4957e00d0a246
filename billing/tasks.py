"""Celery tasks of billing: thin wrappers around billing/checkout.py."""

from __future__ import annotations

from celery import shared_task

from billing import checkout


@shared_task(name="billing.checkouts_expire", ignore_result=True, soft_time_limit=50, time_limit=60)
def checkouts_expire() -> int:
    """Periodic (beat, every BILLING_EXPIRY_SWEEP_INTERVAL seconds): abandoned checkouts close as expired."""
    return checkout.payments_expire_abandoned()
