"""Celery tasks of watchlists: thin wrappers that take ids and call services.py and refresh.py."""

from __future__ import annotations

from celery import shared_task

from watchlists import refresh, services


@shared_task(name="watchlists.refresh_due", ignore_result=True, soft_time_limit=50, time_limit=60)
def watchlists_refresh_due() -> int:
    """Periodic (beat, every WATCHLIST_DISPATCH_INTERVAL seconds): queue the due watchlists' refreshes."""
    return len(refresh.watchlists_refresh_due())


@shared_task(
    name="watchlists.refresh",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=240,
    time_limit=300,
)
def watchlist_refresh(watchlist_id: int, slot: str) -> dict[str, int]:
    """Refresh one watchlist for one due slot; a redelivery or retry charges and alerts nothing twice."""
    report = refresh.watchlist_refresh(watchlist_id=watchlist_id, slot=slot)
    return {
        "refreshed": report.refreshed,
        "skipped": report.skipped,
        "failed": report.failed,
        "alerts": report.alerts,
    }


@shared_task(
    name="watchlists.alerts_email",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def alerts_email(alert_ids: list[int]) -> int:
    return services.alerts_email(alert_ids=alert_ids)
