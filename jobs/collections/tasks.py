"""Celery tasks of scheduled collections: thin wrappers that take ids and call services.py.

``collections_run_due`` and ``collection_results_expire`` are beat entries
(config/settings.py, "Scheduled collections"); a tick delivered twice, or two
beats at once, claim each slot once (a unique (collection, slot) row).
"""

from __future__ import annotations

from celery import shared_task

from jobs.collections import services


@shared_task(name="schedules.collections_run_due", ignore_result=True, soft_time_limit=50, time_limit=60)
def collections_run_due() -> dict[str, object]:
    report = services.collections_run_due()
    return {"claimed": report.claimed, "requeued": report.requeued, "given_up": report.given_up}


@shared_task(
    name="schedules.collection_run_start",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def collection_run_start(run_id: int) -> str:
    # A start that fails is left pending: the next beat tick queues it again (see services).
    return services.collection_run_start(run_id=run_id).status


@shared_task(
    name="schedules.collection_results_expire", ignore_result=True, soft_time_limit=240, time_limit=300
)
def collection_results_expire() -> int:
    return services.collection_runs_expire_results()


@shared_task(
    name="schedules.collection_run_notify",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def collection_run_notify(run_id: int) -> bool:
    return services.collection_run_notify(run_id=run_id)
