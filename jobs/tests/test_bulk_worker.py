"""Bulk jobs on real Celery worker processes, on Redis and PostgreSQL.

A job completes; a worker SIGKILLed in the middle of a chunk loses nothing and
charges nothing twice once a worker runs again; cancel stops the workers and
releases the credits that were not used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from credits.models import CreditHold, LedgerEntry
from credits.selectors import accounts_out_of_balance, balance_get
from credits.tests.factories import funded_user
from jobs.bulk import services
from jobs.models import BulkItem, BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, asins, assert_books_balance, create_job
from products.models import LookupLog
from products.querylog import lookup_log_flush

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

# Short timings for the worker processes, so recovery happens within the test.
QUICK = {
    "BULK_TASK_SECONDS": "2",
    "BULK_RETRY_DELAY": "0",
    "BULK_CLAIM_TIMEOUT": "3",
    "BULK_SWEEP_INTERVAL": "1",
    "BULK_STALL_SECONDS": "2",
    "CELERY_VISIBILITY_TIMEOUT": "5",
    "PRODUCT_LOOKUP_WAIT_SECONDS": "2",
}


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, workers) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n\n".join(f"--- {w.nodename}\n{w.log()[-6000:]}" for w in workers.workers)
            pytest.fail(f"Timed out waiting for {what}.\n{logs}")
        time.sleep(0.02)


def job_state(job_id: int) -> BulkJob:
    return BulkJob.objects.get(pk=job_id)


def a_chunk_done_and_one_just_claimed(job_id: int) -> bool:
    # Claimed less than 0.4 s ago, its upstream batch takes 1 s: the worker is in the middle of it.
    just_now = timezone.now() - timedelta(seconds=0.4)
    return (
        job_state(job_id).succeeded >= 10
        and BulkItem.objects.filter(
            job_id=job_id, status=BulkItem.Status.CLAIMED, claimed_at__gte=just_now
        ).exists()
    )


# One lane, no beat (no sweep) and the broker's real visibility timeout: a killed lane's message
# comes back only after 360 s, so only what a starting worker does can move the job again in time.
# Each upstream batch of 10 takes a second, so a worker can be killed in the middle of a chunk.
NO_BEAT_ONE_LANE = {
    **QUICK,
    "SANDBOX_LATENCY_MS": "1000",
    "BULK_CHUNK_SIZE": "10",
    "BULK_LANES": "1",
    "CELERY_VISIBILITY_TIMEOUT": "360",
}


def assert_40_delivered_and_each_charged_once(job: BulkJob, user, in_flight: set[int]) -> None:
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.failed) == ("completed", 40, 1)
    assert all(a >= 2 for a in BulkItem.objects.filter(pk__in=in_flight).values_list("attempts", flat=True))
    # Each item charged once: one hold, the one unknown ASIN's credit released, nothing else.
    delivered = BulkItem.objects.filter(job=job, status=BulkItem.Status.SUCCEEDED)
    assert set(delivered.values_list("credits", flat=True)) == {1}
    entries = LedgerEntry.objects.filter(account__user=user, reference=f"bulk:{job.pk}")
    assert sorted(entries.values_list("kind", "amount")) == [("hold", -41), ("release", 1)]
    assert balance_get(user=user) == 100 - 40
    hold = CreditHold.objects.get(pk=job.hold_id)
    assert (hold.status, hold.amount, hold.used, hold.released) == ("settled", 41, 40, 1)
    assert_books_balance(job)


def test_a_worker_completes_a_job_and_emails_its_owner(celery_workers):
    worker = celery_workers.start("w1", env=QUICK)
    user = funded_user(credits=300)

    job = create_job(
        user, [*asins(250), NOT_FOUND, "not-an-asin"]
    )  # queued when the test's transaction commits

    wait_for(lambda: job_state(job.pk).is_final, timeout=60, what="the job to finish", workers=celery_workers)
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.failed, job.invalid, job.processed) == (
        "completed",
        250,
        2,
        1,
        252,
    )
    assert balance_get(user=user) == 300 - 250
    assert_books_balance(job)
    wait_for(
        lambda: f"Subject: Bulk job #{job.pk} completed: 250 of 252 delivered" in worker.log(),
        timeout=20,
        what="the email (console backend) in the worker's log",
        workers=celery_workers,
    )


@pytest.mark.parametrize(
    "recovery",
    ["the same worker restarts", "another worker takes over"],
)
def test_a_worker_killed_mid_job_loses_nothing_and_charges_nothing_twice(celery_workers, recovery):
    # Slow enough to be killed in the middle of a chunk: each upstream batch of 10 takes a second.
    env = {**QUICK, "SANDBOX_LATENCY_MS": "1000", "BULK_CHUNK_SIZE": "10"}
    worker = celery_workers.start("doomed", env=env, beat=True)
    user = funded_user(credits=100)
    job = create_job(user, [*asins(60), NOT_FOUND, "not-an-asin"])

    def a_chunk_done_and_one_just_claimed() -> bool:
        # Claimed less than 0.4 s ago, its upstream batch takes 1 s: the worker is in the middle of it.
        just_now = timezone.now() - timedelta(seconds=0.4)
        return (
            job_state(job.pk).succeeded >= 10
            and BulkItem.objects.filter(
                job=job, status=BulkItem.Status.CLAIMED, claimed_at__gte=just_now
            ).exists()
        )

    wait_for(a_chunk_done_and_one_just_claimed, timeout=60, what="a chunk in flight", workers=celery_workers)
    worker.kill()  # SIGKILL: no shutdown, no ack, no cleanup
    in_flight = set(
        BulkItem.objects.filter(job=job, status=BulkItem.Status.CLAIMED).values_list("pk", flat=True)
    )
    done_before = job_state(job.pk).succeeded
    assert in_flight, "the worker died while it held a claimed chunk"
    assert job_state(job.pk).status == "running"
    time.sleep(1.5)
    assert job_state(job.pk).succeeded == done_before  # nothing works on it while no worker runs

    celery_workers.start(
        "doomed" if recovery == "the same worker restarts" else "rescuer", env=env, beat=True
    )

    wait_for(lambda: job_state(job.pk).is_final, timeout=90, what="the job to finish", workers=celery_workers)
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.failed, job.invalid) == ("completed", 60, 2, 1)
    # Every valid item delivered exactly once, and charged exactly once.
    delivered = BulkItem.objects.filter(job=job, status=BulkItem.Status.SUCCEEDED)
    assert delivered.count() == 60
    assert set(delivered.values_list("credits", flat=True)) == {1}
    assert set(delivered.values_list("value", flat=True)) == set(asins(60))
    assert all(a >= 2 for a in BulkItem.objects.filter(pk__in=in_flight).values_list("attempts", flat=True))
    assert balance_get(user=user) == 100 - 60
    hold = CreditHold.objects.get(pk=job.hold_id)
    assert (hold.status, hold.amount, hold.used, hold.released) == ("settled", 61, 60, 1)
    assert accounts_out_of_balance() == []
    assert_books_balance(job)
    # The query log has each processed item once (60 delivered, 1 unknown), however often its
    # chunk ran. The workers' beat flushes the log too: wait until every line is in.
    logged = LookupLog.objects.filter(user=user, channel="bulk")
    wait_for(
        lambda: lookup_log_flush() >= 0 and logged.count() >= 61,
        timeout=20,
        what="the query log",
        workers=celery_workers,
    )
    time.sleep(0.5)
    lookup_log_flush()
    per_asin = logged.values("asin").annotate(n=Count("pk"))
    assert logged.count() == 61
    assert {row["n"] for row in per_asin} == {1}


def test_a_restarted_worker_queues_the_job_it_was_killed_in_again_without_beat(celery_workers, settings):
    # The restart that frees the dead worker's claims must also queue the job again (see NO_BEAT_ONE_LANE).
    settings.BULK_LANES = 1
    worker = celery_workers.start("doomed", env=NO_BEAT_ONE_LANE)
    user = funded_user(credits=100)
    job = create_job(user, [*asins(40), NOT_FOUND])

    wait_for(
        lambda: a_chunk_done_and_one_just_claimed(job.pk),
        timeout=60,
        what="a chunk in flight",
        workers=celery_workers,
    )
    worker.kill()
    in_flight = set(
        BulkItem.objects.filter(job=job, status=BulkItem.Status.CLAIMED).values_list("pk", flat=True)
    )
    done_before = job_state(job.pk).succeeded
    assert in_flight
    assert done_before < 41

    restarted_at = time.monotonic()
    # The same name: its start releases the dead one's claims.
    celery_workers.start("doomed", env=NO_BEAT_ONE_LANE)
    wait_for(
        lambda: job_state(job.pk).succeeded > done_before,
        timeout=30,
        what="the job to move again after the restart",
        workers=celery_workers,
    )
    moved_after = time.monotonic() - restarted_at
    wait_for(lambda: job_state(job.pk).is_final, timeout=30, what="the job to finish", workers=celery_workers)
    finished_after = time.monotonic() - restarted_at
    print(f"job moved {moved_after:.1f} s and finished {finished_after:.1f} s after the restart began")
    assert finished_after < 30

    assert_40_delivered_and_each_charged_once(job, user, in_flight)


def test_a_new_worker_moves_the_job_a_killed_worker_of_another_name_held_without_beat(
    celery_workers, settings
):
    # A replacement with a new name (a new pod of the Deployment) knows nothing of the dead worker
    # but that its heartbeats stopped: it must notice within their lifetime (15 s, the default
    # here) and queue the job again, not wait for the sweep's BULK_CLAIM_TIMEOUT (see NO_BEAT_ONE_LANE).
    settings.BULK_LANES = 1
    worker = celery_workers.start("killed", env=NO_BEAT_ONE_LANE)
    user = funded_user(credits=100)
    job = create_job(user, [*asins(40), NOT_FOUND])

    wait_for(
        lambda: a_chunk_done_and_one_just_claimed(job.pk),
        timeout=60,
        what="a chunk in flight",
        workers=celery_workers,
    )
    worker.kill()
    in_flight = set(
        BulkItem.objects.filter(job=job, status=BulkItem.Status.CLAIMED).values_list("pk", flat=True)
    )
    done_before = job_state(job.pk).succeeded
    assert in_flight
    assert done_before < 41

    started_at = time.monotonic()
    celery_workers.start("replacement", env=NO_BEAT_ONE_LANE)
    wait_for(
        lambda: job_state(job.pk).succeeded > done_before,
        timeout=30,
        what="the job to move again after the new worker started",
        workers=celery_workers,
    )
    moved_after = time.monotonic() - started_at
    wait_for(lambda: job_state(job.pk).is_final, timeout=30, what="the job to finish", workers=celery_workers)
    finished_after = time.monotonic() - started_at
    print(
        f"job moved {moved_after:.1f} s and finished {finished_after:.1f} s after the new worker was started"
    )
    assert moved_after < 30

    assert_40_delivered_and_each_charged_once(job, user, in_flight)


def test_cancel_stops_the_workers_and_releases_the_rest(celery_workers):
    celery_workers.start("w1", env={**QUICK, "SANDBOX_LATENCY_MS": "500", "BULK_CHUNK_SIZE": "5"})
    user = funded_user(credits=100)
    job = create_job(user, asins(60))
    wait_for(
        lambda: job_state(job.pk).succeeded >= 5, timeout=60, what="a first chunk", workers=celery_workers
    )

    job = services.bulk_job_cancel(job=job)
    delivered = job.succeeded
    time.sleep(2)  # a chunk that was in flight finishes: it must change nothing

    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.succeeded == delivered < 60
    assert job.cancelled == 60 - delivered
    assert BulkItem.objects.filter(job=job, status=BulkItem.Status.SUCCEEDED).count() == delivered
    assert balance_get(user=user) == 100 - delivered
    hold = CreditHold.objects.get(pk=job.hold_id)
    assert (hold.status, hold.used, hold.released) == ("settled", delivered, 60 - delivered)
    assert_books_balance(job)
