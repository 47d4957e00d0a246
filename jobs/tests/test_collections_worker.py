"""Scheduled collections on a real Celery worker process (Redis broker, PostgreSQL): the beat's
task claims the due slot once and the run's bulk job completes; a run the balance cannot cover
is skipped, charges nothing and is emailed."""

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from credits.selectors import accounts_out_of_balance, balance_get
from credits.tests.factories import funded_user
from jobs.collections import tasks
from jobs.models import BulkJob, Collection, CollectionRun
from jobs.tests.bulk_helpers import assert_books_balance
from jobs.tests.collection_factories import make_collection

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]
QUICK = {"BULK_TASK_SECONDS": "2", "BULK_RETRY_DELAY": "0"}


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, workers) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n\n".join(f"--- {w.nodename}\n{w.log()[-6000:]}" for w in workers.workers)
            pytest.fail(f"Timed out waiting for {what}.\n{logs}")
        time.sleep(0.05)


def test_the_beat_task_starts_a_due_slot_once_and_its_job_completes(celery_workers):
    assert settings.CELERY_BEAT_SCHEDULE["schedules-run-due"]["task"] == tasks.collections_run_due.name
    worker = celery_workers.start("w1", env=QUICK)
    user = funded_user(credits=100)
    collection = make_collection(user, 5)
    slot = timezone.now() - timedelta(seconds=1)
    Collection.objects.filter(pk=collection.pk).update(next_run_at=slot)

    # Two ticks at once (two beats, or one delivered twice): one run.
    tasks.collections_run_due.delay()
    tasks.collections_run_due.delay()

    def job_done() -> bool:
        run = CollectionRun.objects.filter(collection=collection).select_related("job").first()
        return run is not None and run.job is not None and run.job.is_final

    wait_for(job_done, timeout=60, what="the run's job to finish", workers=celery_workers)
    run = CollectionRun.objects.select_related("job").get(collection=collection)
    assert (run.slot, run.trigger, run.status) == (slot, "schedule", "started")
    assert run.job is not None
    assert (run.job.status, run.job.succeeded) == ("completed", 5)
    assert balance_get(user=user) == 95
    assert_books_balance(run.job)
    time.sleep(1)
    assert CollectionRun.objects.filter(collection=collection).count() == 1
    assert BulkJob.objects.count() == 1
    collection.refresh_from_db()
    assert collection.next_run_at is not None
    assert collection.next_run_at > timezone.now()
    wait_for(
        lambda: f"Subject: Bulk job #{run.job_id} completed" in worker.log(),
        timeout=20,
        what="the bulk engine's email",
        workers=celery_workers,
    )


def test_a_scheduled_run_the_balance_cannot_cover_is_skipped_and_emailed(celery_workers):
    worker = celery_workers.start("w1", env=QUICK)
    user = funded_user(credits=2)
    collection = make_collection(user, 3, name="Too big")
    Collection.objects.filter(pk=collection.pk).update(next_run_at=timezone.now())

    tasks.collections_run_due.delay()

    wait_for(
        lambda: CollectionRun.objects.filter(collection=collection, status="skipped").exists(),
        timeout=30,
        what="the skipped run",
        workers=celery_workers,
    )
    run = CollectionRun.objects.get(collection=collection)
    assert run.reason_code == "insufficient_credits"
    assert balance_get(user=user) == 2
    assert BulkJob.objects.count() == 0
    assert accounts_out_of_balance() == []
    wait_for(
        lambda: 'Subject: Collection "Too big": run skipped' in worker.log(),
        timeout=20,
        what="the skipped-run email (console backend) in the worker's log",
        workers=celery_workers,
    )
