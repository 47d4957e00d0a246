from __future__ import annotations

from celery import shared_task

from accounts.models import User
from conversion import sources
from products.providers import ProviderError


@shared_task(
    name="conversion.fba_inventory_sync",
    ignore_result=True,
    soft_time_limit=240,
    time_limit=300,
    autoretry_for=(ProviderError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=3,
)
def fba_inventory_sync_task(user_id: int, marketplace: str) -> int:
    """A full (or incremental) sync of one seller's FBA inventory; idempotent, so a redelivery is harmless."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return 0
    return sources.fba_inventory_sync(user=user, marketplace=marketplace).items
