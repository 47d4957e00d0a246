"""Celery tasks of bulk jobs: thin wrappers that take ids and call jobs/bulk/services.py.

Imported by products/tasks.py, which Celery's autodiscovery finds.

``bulk_job_work`` is one "lane" of a job: it processes chunks for about
``BULK_TASK_SECONDS`` (well under its time limits and the broker's visibility
timeout), then queues itself again while items are left. A job runs in up to
``BULK_LANES`` lanes at once; a lane delivered twice, or a lane too many,
only finds nothing left to claim.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready, worker_shutdown
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs.bulk import services
from jobs.bulk.conf import bulk_settings
from jobs.bulk.heartbeats import WorkerHeartbeat

# A lane stops claiming after BULK_TASK_SECONDS; one chunk may still take a
# while (upstream retries and rate-limit waits), hence the margin. The claim
# timeout (BULK_CLAIM_TIMEOUT) must exceed the hard limit, and the broker's
# visibility timeout (CELERY_VISIBILITY_TIMEOUT) too.
WORK_SOFT_TIME_LIMIT = 100
WORK_TIME_LIMIT = 120


@shared_task(
    name="products.bulk_job_work",
    bind=True,
    ignore_result=True,
    acks_late=True,
    soft_time_limit=WORK_SOFT_TIME_LIMIT,
    time_limit=WORK_TIME_LIMIT,
)
def bulk_job_work(self: Task[Any, Any], job_id: int) -> None:
    report = services.bulk_job_work(job_id=job_id, worker=self.request.hostname or "")
    if report.next_in is not None:
        if report.next_in > 0:
            bulk_job_work.apply_async((job_id,), countdown=report.next_in)
        else:
            bulk_job_work.apply_async((job_id,))


@shared_task(name="products.bulk_jobs_sweep", ignore_result=True, soft_time_limit=50, time_limit=60)
def bulk_jobs_sweep() -> dict[str, object]:
    """Periodic (beat, every BULK_SWEEP_INTERVAL seconds): see ``services.bulk_jobs_sweep``."""
    report = services.bulk_jobs_sweep()
    return {
        "dead_workers": report.dead_workers,
        "released": report.released,
        "abandoned": report.abandoned,
        "gave_up": report.gave_up,
        "requeued": report.requeued,
    }


@shared_task(
    name="products.bulk_claims_release_worker", ignore_result=True, soft_time_limit=50, time_limit=60
)
def bulk_claims_release_worker(worker: str, claimed_before: str) -> int:
    before = parse_datetime(claimed_before)
    if before is None:
        return 0
    return services.bulk_claims_release_worker(worker=worker, claimed_before=before)


@shared_task(
    name="products.bulk_claims_release_dead_workers", ignore_result=True, soft_time_limit=50, time_limit=60
)
def bulk_claims_release_dead_workers() -> int:
    return services.bulk_claims_release_dead_workers()


@shared_task(
    name="products.bulk_job_notify",
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def bulk_job_notify(job_id: int) -> bool:
    return services.bulk_job_notify(job_id=job_id)


# The heartbeat of the worker this process runs (its main process), while it runs.
_heartbeats: list[WorkerHeartbeat] = []


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    """The worker marks itself alive while it runs (jobs/bulk/heartbeats.py); the first mark
    is set before it takes a task."""
    hostname = getattr(sender, "hostname", None)
    if not hostname:
        return
    _stop_heartbeat()
    heartbeat = WorkerHeartbeat(hostname)
    heartbeat.start()
    _heartbeats.append(heartbeat)


@worker_shutdown.connect
def _stop_heartbeat(**kwargs: Any) -> None:
    """Sent once a warm shutdown's tasks have finished (a cold one, or a kill, sends nothing):
    the last mark then expires within BULK_WORKER_ALIVE_SECONDS."""
    while _heartbeats:
        _heartbeats.pop().stop()


@worker_ready.connect
def _release_claims_of_dead_workers(sender: Any = None, **kwargs: Any) -> None:
    """A worker starting is often the replacement of one that died, under a new name: the
    claims of workers whose heartbeats stopped are released and their jobs queued again,
    with or without beat. Now, for workers dead longer than BULK_WORKER_ALIVE_SECONDS, and
    once more when the last mark of a worker that died just before this start has expired."""
    bulk_claims_release_dead_workers.delay()
    bulk_claims_release_dead_workers.apply_async(countdown=bulk_settings().worker_alive_seconds + 1)


@worker_ready.connect
def _release_claims_of_the_previous_run(sender: Any = None, **kwargs: Any) -> None:
    """A worker starting under a name means the earlier process of that name is
    gone: what it had claimed is released at once rather than after the claim timeout,
    and its jobs are queued again (their lanes died with it)."""
    hostname = getattr(sender, "hostname", None)
    if hostname:
        bulk_claims_release_worker.delay(hostname, timezone.now().isoformat())
