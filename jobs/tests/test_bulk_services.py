"""Bulk jobs' services: creation and holds, exactly-once processing and charging, cancel, retry, sweep."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from config.celery import app
from core.api_errors import http_status
from core.errors import ConflictError, DomainError
from core.tests.emails import assert_platform_email
from credits.errors import InsufficientCredits
from credits.models import CreditHold
from credits.selectors import balance_get
from credits.services import credits_adjust
from credits.tests.factories import funded_user
from jobs.bulk import heartbeats, kinds, selectors, services
from jobs.bulk.kinds import (
    BulkKind,
    ClaimedItem,
    ItemOutcome,
    JobContext,
    bulk_kind_get,
    bulk_kind_register,
)
from jobs.bulk.uploads import InputRow
from jobs.models import BulkItem, BulkJob
from jobs.tests.bulk_helpers import (
    NOT_FOUND,
    OUTAGE,
    UpstreamSpy,
    asins,
    assert_books_balance,
    create_job,
    run_job,
)
from products.models import LookupLog
from products.querylog import lookup_log_flush

pytestmark = pytest.mark.django_db
Status = BulkItem.Status


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks run inline (the job's lanes, its email) instead of going to the broker."""
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture(autouse=True)
def _quick_retries(settings) -> None:
    settings.BULK_RETRY_DELAY = 0
    settings.BULK_RETRY_DELAY_MAX = 0


def statuses(job: BulkJob) -> dict[str, str]:
    return dict(BulkItem.objects.filter(job=job).values_list("input", "status"))


# --- Creating ---------------------------------------------------------------------------------


def test_a_job_holds_the_credits_of_its_valid_items_and_queues_after_commit(
    django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.BULK_CHUNK_SIZE = 2
    settings.BULK_LANES = 4
    queued: list[tuple[int, int]] = []
    monkeypatch.setattr(services, "bulk_job_enqueue", lambda *, job_id, lanes: queued.append((job_id, lanes)))
    user = funded_user(credits=20)

    with django_capture_on_commit_callbacks(execute=True):
        job = create_job(user, ["b08n5wrwnw", "NOPE", "B08N5WRWNW", *asins(4), ""])

    assert (job.status, job.total, job.invalid, job.failed, job.duplicates) == ("queued", 6, 1, 1, 1)
    assert job.credits_held == 5
    assert job.item_price == 1
    assert balance_get(user=user) == 15
    hold = CreditHold.objects.get(pk=job.hold_id)
    assert (hold.amount, hold.status, hold.idempotency_key) == (5, "open", f"bulk:{job.pk}:hold")
    items = list(BulkItem.objects.filter(job=job).order_by("row").values_list("row", "value", "status"))
    assert items[:2] == [(1, "B08N5WRWNW", "pending"), (2, "", "invalid")]
    assert len(items) == 6
    invalid = BulkItem.objects.get(job=job, status=Status.INVALID)
    assert (invalid.error_code, invalid.credits) == ("invalid_input", 0)
    assert "exactly 10 characters" in invalid.error_message
    assert queued == [(job.pk, 3)]  # 5 valid items in chunks of 2: three lanes (of at most four)


def test_not_enough_credits_is_402_and_creates_nothing():
    user = funded_user(credits=2)

    with pytest.raises(InsufficientCredits) as info:
        create_job(user, asins(3))

    assert http_status(info.value) == 402
    assert (BulkJob.objects.count(), BulkItem.objects.count(), CreditHold.objects.count()) == (0, 0, 0)
    assert balance_get(user=user) == 2


def test_no_valid_item_is_a_400_listing_the_rows():
    user = funded_user(credits=5)

    with pytest.raises(DomainError) as info:
        create_job(user, ["nope", "B0SHORT"])

    assert (http_status(info.value), info.value.code) == (400, "no_valid_items")
    assert [row["row"] for row in info.value.extra["rows"]] == [1, 2]
    assert BulkJob.objects.count() == 0
    assert balance_get(user=user) == 5


def test_an_unknown_marketplace_is_refused_before_anything_is_held():
    user = funded_user(credits=5)

    with pytest.raises(DomainError) as info:
        create_job(user, asins(2), marketplace="XX")

    assert info.value.code == "invalid_marketplace"
    assert BulkJob.objects.count() == 0
    assert balance_get(user=user) == 5


def test_the_same_idempotency_key_returns_the_first_job_and_holds_once():
    user = funded_user(credits=10)

    first = create_job(user, asins(3), idempotency_key="upload-1")
    again = create_job(user, asins(3), idempotency_key="upload-1")
    with pytest.raises(ConflictError) as info:
        create_job(user, asins(4), idempotency_key="upload-1")

    assert again.pk == first.pk
    assert info.value.code == "idempotency_key_reused"
    assert BulkJob.objects.count() == 1
    assert balance_get(user=user) == 7
    # Another user's key is theirs.
    assert create_job(funded_user(credits=3), asins(3), idempotency_key="upload-1").pk != first.pk


def test_an_unknown_kind_is_refused():
    with pytest.raises(DomainError) as info:
        services.bulk_job_create(user=funded_user(credits=1), kind="nope", rows=[InputRow(1, "x")])

    assert info.value.code == "unknown_job_kind"


# --- Processing -------------------------------------------------------------------------------


def test_a_job_delivers_every_item_once_and_settles_its_hold(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.BULK_CHUNK_SIZE = 3
    emails: list[int] = []
    monkeypatch.setattr(services, "_notify_later", emails.append)
    user = funded_user(credits=20)
    job = create_job(user, [*asins(7), NOT_FOUND, "bad"])

    with django_capture_on_commit_callbacks(execute=True):
        job = run_job(job.pk)

    assert (job.status, job.succeeded, job.failed, job.invalid, job.processed) == ("completed", 7, 2, 1, 9)
    assert job.started_at
    assert job.finished_at
    assert job.credits_spent == 7
    assert balance_get(user=user) == 20 - 7
    hold = CreditHold.objects.get(pk=job.hold_id)
    assert (hold.used, hold.released, hold.status) == (7, 1, "settled")
    delivered = BulkItem.objects.get(job=job, value=asins(1)[0])
    assert (delivered.status, delivered.credits, delivered.attempts) == ("succeeded", 1, 1)
    assert delivered.result["asin"] == delivered.value
    assert delivered.result["sample_data"] is True
    unknown = BulkItem.objects.get(job=job, value=NOT_FOUND)
    assert (unknown.status, unknown.error_code, unknown.credits, unknown.result) == (
        "failed",
        "product_not_found",
        0,
        None,
    )
    assert emails == [job.pk]  # the email, once the job's last transaction commits
    assert_books_balance(job)
    # Each item that reached a final state is logged once, as a bulk lookup.
    lookup_log_flush()
    logged = LookupLog.objects.filter(user=user, channel="bulk")
    assert logged.count() == 8
    assert logged.filter(outcome="ok", credits=1).count() == 7
    assert logged.filter(outcome="not_found", asin=NOT_FOUND, credits=0).count() == 1


def test_a_job_where_nothing_could_be_delivered_fails_and_gives_every_credit_back():
    user = funded_user(credits=5)
    job = create_job(user, [NOT_FOUND])

    job = run_job(job.pk)

    assert (job.status, job.succeeded, job.failed, job.credits_spent) == ("failed", 0, 1, 0)
    assert balance_get(user=user) == 5
    assert_books_balance(job)


def test_a_redelivered_chunk_does_nothing_twice(monkeypatch):
    user = funded_user(credits=10)
    job = create_job(user, asins(4))
    spy = UpstreamSpy(monkeypatch)
    items = services._claim(job.pk, token="token-1", worker="w1", size=10)
    spec = bulk_kind_get("asin_lookup")
    context = JobContext(job.pk, user.pk, job.kind, job.params, job.item_price)

    # The worker processed the chunk and recorded it; then the broker delivered it again.
    first = services._complete(job.pk, "token-1", items, spec.process(context, items))
    second = services._complete(job.pk, "token-1", items, spec.process(context, items))

    assert len(first) == 4
    assert second == []
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.credits_spent) == ("completed", 4, 4)
    assert balance_get(user=user) == 6
    assert len(spy.batches) == 1  # the second processing was served from the cache
    assert services.bulk_job_work(job_id=job.pk).claimed == 0
    assert_books_balance(job)


def test_a_claim_taken_over_after_its_worker_was_presumed_dead_is_completed_once(settings):
    settings.BULK_CLAIM_TIMEOUT = 60
    user = funded_user(credits=10)
    job = create_job(user, asins(3))
    slow = services._claim(job.pk, token="slow", worker="w1", size=10)
    spec = bulk_kind_get("asin_lookup")
    context = JobContext(job.pk, user.pk, job.kind, job.params, job.item_price)

    # The slow worker's claim expires; the sweep releases it and another worker does the items.
    report = services.bulk_jobs_sweep(now=timezone.now() + timedelta(seconds=61))
    fast = services._claim(job.pk, token="fast", worker="w2", size=10)
    assert services._complete(job.pk, "fast", fast, spec.process(context, fast))
    # The slow worker finally finishes: its results are discarded, nothing is charged twice.
    assert services._complete(job.pk, "slow", slow, spec.process(context, slow)) == []

    assert (report.released, report.abandoned) == (3, 0)
    assert [item.attempts for item in fast] == [2, 2, 2]
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.credits_spent) == ("completed", 3, 3)
    assert balance_get(user=user) == 7
    assert_books_balance(job)


def test_a_transient_failure_is_retried_and_given_up_after_the_attempts(settings):
    settings.BULK_MAX_ATTEMPTS = 3
    user = funded_user(credits=10)
    job = create_job(user, [*asins(3), OUTAGE])

    services.bulk_job_work(job_id=job.pk, time_budget=0)  # one chunk
    outage = BulkItem.objects.get(job=job, value=OUTAGE)
    assert (outage.status, outage.attempts, outage.error_code) == ("pending", 1, "upstream_unavailable")
    assert BulkItem.objects.filter(job=job, status=Status.SUCCEEDED).count() == 3  # the batch was split
    job = run_job(job.pk)

    outage.refresh_from_db()
    assert (outage.status, outage.attempts, outage.credits) == ("failed", 3, 0)
    assert "gave up after 3 attempts" in outage.error_message
    assert (job.status, job.succeeded, job.failed, job.credits_spent) == ("completed", 3, 1, 3)
    assert balance_get(user=user) == 7
    assert_books_balance(job)


def test_retries_back_off_between_attempts(settings):
    settings.BULK_RETRY_DELAY = 5
    settings.BULK_RETRY_DELAY_MAX = 600
    job = create_job(funded_user(credits=5), [OUTAGE])

    report = services.bulk_job_work(job_id=job.pk)

    item = BulkItem.objects.get(job=job)
    wait = (item.available_at - timezone.now()).total_seconds()
    assert 25 < wait <= 30  # the upstream's Retry-After (30 s) is above the first backoff (5 s)
    assert 25 < report.next_in <= 30
    assert services.bulk_job_work(job_id=job.pk).claimed == 0  # not due yet


def test_an_upstream_holding_back_pauses_the_lane_without_using_attempts(settings):
    settings.PROVIDER_RATE_LIMITS = "sandbox=0.01/2"  # two ASINs now, then one every 100 s
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.1
    settings.BULK_CHUNK_SIZE = 2
    settings.BULK_RETRY_DELAY_MAX = 60
    user = funded_user(credits=10)
    job = create_job(user, asins(6))

    report = services.bulk_job_work(job_id=job.pk)

    assert report.claimed == 4  # the second chunk was held back: the lane stopped there
    assert BulkItem.objects.filter(job=job, status=Status.SUCCEEDED).count() == 2
    waiting = BulkItem.objects.filter(job=job, status=Status.PENDING, available_at__isnull=False)
    assert waiting.count() == 2
    assert set(waiting.values_list("attempts", flat=True)) == {0}  # not attempted: no attempt used
    assert 50 < report.next_in <= 60


def test_a_processor_crash_retries_its_chunk_then_fails_it(settings):
    settings.BULK_MAX_ATTEMPTS = 2

    def crashing(job: JobContext, items: Sequence[ClaimedItem]) -> dict[int, ItemOutcome]:
        raise RuntimeError("boom")

    with registered_kind("crashing", crashing):
        user = funded_user(credits=5)
        job = services.bulk_job_create(user=user, kind="crashing", rows=[InputRow(1, "a"), InputRow(2, "b")])
        report = services.bulk_job_work(job_id=job.pk)
        assert report.next_in == 0  # the items are due again at once (no backoff in these tests)
        job = run_job(job.pk)

    assert (job.status, job.failed) == ("failed", 2)
    item = BulkItem.objects.filter(job=job).first()
    assert item.error_code == "processing_error"
    assert "RuntimeError" in item.error_message
    assert balance_get(user=user) == 5
    assert_books_balance(job)


def test_any_kind_registered_with_a_processor_runs_on_the_same_engine():
    seen: list[list[str]] = []

    def shout(job: JobContext, items: Sequence[ClaimedItem]) -> dict[int, ItemOutcome]:
        seen.append([item.value for item in items])
        return {
            item.id: ItemOutcome.succeeded({"shout": item.value, "rows": item.row})
            if item.value != "QUIET"
            else ItemOutcome.failed("too_quiet", "Nothing to shout.")
            for item in items
        }

    with registered_kind("shout", shout, normalize=lambda raw: raw.strip().upper()):
        user = funded_user(credits=5)
        rows = [InputRow(1, "a"), InputRow(2, "b"), InputRow(3, "A"), InputRow(4, "quiet")]
        job = run_job(services.bulk_job_create(user=user, kind="shout", rows=rows).pk)

    assert seen == [["A", "B", "QUIET"]]
    assert (job.status, job.succeeded, job.failed, job.duplicates, job.credits_spent) == (
        "completed",
        2,
        1,
        1,
        2,
    )
    assert BulkItem.objects.get(job=job, value="B").result == {"shout": "B", "rows": 2}
    assert balance_get(user=user) == 3
    assert_books_balance(job)


class registered_kind:
    def __init__(self, name, process, normalize=None):
        self.kind = BulkKind(
            name=name,
            label=name,
            operation="bulk_item",
            input_label="value",
            input_column="value",
            normalize=normalize or (lambda raw: raw.strip()),
            process=process,
        )

    def __enter__(self):
        return bulk_kind_register(self.kind)

    def __exit__(self, *exc):
        kinds._registry.pop(self.kind.name, None)


def test_a_kinds_extra_csv_columns_reach_its_processor():
    seen: dict[str, dict[str, str]] = {}

    def remember(job: JobContext, items: Sequence[ClaimedItem]) -> dict[int, ItemOutcome]:
        seen.update({item.value: dict(item.extra) for item in items})
        return {item.id: ItemOutcome.succeeded({}) for item in items}

    kind = registered_kind("labelled", remember)
    kind.kind = BulkKind(
        **{**{f: getattr(kind.kind, f) for f in kind.kind.__slots__}, "extra_columns": ("title",)}
    )
    with kind:
        data = io.BytesIO(b"title,value\nBlue bottle,a\n,b\n")
        job = services.bulk_job_create_from_csv(
            user=funded_user(credits=5), kind="labelled", file=data, size=22
        )
        run_job(job.pk)

    assert seen == {"a": {"title": "Blue bottle"}, "b": {}}


def test_a_kind_name_is_registered_once():
    kind = bulk_kind_get("asin_lookup")

    assert bulk_kind_register(kind) is kind  # the same definition again is fine
    with pytest.raises(ValueError, match="already registered"):
        bulk_kind_register(BulkKind(**{**{f: getattr(kind, f) for f in kind.__slots__}, "label": "Other"}))


# --- Cancel ------------------------------------------------------------------------------------


def test_cancel_stops_the_rest_and_releases_its_credits_at_once(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.BULK_CHUNK_SIZE = 2
    emails: list[int] = []
    monkeypatch.setattr(services, "_notify_later", emails.append)
    user = funded_user(credits=10)
    job = create_job(user, asins(6))
    services.bulk_job_work(job_id=job.pk, time_budget=0)  # one chunk

    with django_capture_on_commit_callbacks(execute=True):
        job = services.bulk_job_cancel(job=job)

    assert (job.status, job.succeeded, job.cancelled, job.processed) == ("cancelled", 2, 4, 6)
    assert balance_get(user=user) == 8
    hold = CreditHold.objects.get(pk=job.hold_id)
    assert (hold.status, hold.used, hold.released) == ("settled", 2, 4)
    assert emails == []  # no "job finished" email for a job its owner stopped
    assert services.bulk_job_work(job_id=job.pk).claimed == 0
    assert services.bulk_job_cancel(job=job).status == "cancelled"  # again: nothing more happens
    assert balance_get(user=user) == 8
    assert_books_balance(job)


def test_a_chunk_in_flight_when_the_job_is_cancelled_is_discarded_uncharged():
    user = funded_user(credits=10)
    job = create_job(user, asins(3))
    items = services._claim(job.pk, token="t", worker="w", size=10)
    spec = bulk_kind_get("asin_lookup")
    outcomes = spec.process(JobContext(job.pk, user.pk, job.kind, job.params, 1), items)

    services.bulk_job_cancel(job=job)

    assert services._complete(job.pk, "t", items, outcomes) == []
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.cancelled) == ("cancelled", 0, 3)
    assert balance_get(user=user) == 10
    assert_books_balance(job)


def test_a_finished_job_cannot_be_cancelled():
    job = run_job(create_job(funded_user(credits=5), asins(1)).pk)

    with pytest.raises(ConflictError) as info:
        services.bulk_job_cancel(job=job)

    assert info.value.code == "job_finished"


# --- Retry -------------------------------------------------------------------------------------


def test_retry_processes_the_failed_items_again_with_a_new_hold(monkeypatch):
    user = funded_user(credits=10)
    job = create_job(user, [*asins(2), NOT_FOUND, "invalid!"])
    job = run_job(job.pk)
    assert (job.succeeded, job.failed) == (2, 2)
    # The upstream knows the product now.
    monkeypatch.setattr("products.providers.sandbox.NOT_FOUND_ASIN", "B0NOTHING0")
    cache.delete_pattern("*product-failed*")
    first_start = job.started_at

    job = services.bulk_job_retry(job=job)

    assert (job.status, job.run, job.run_total, job.failed, job.credits_held) == ("queued", 2, 1, 1, 4)
    assert balance_get(user=user) == 10 - 2 - 1
    assert CreditHold.objects.get(pk=job.hold_id).idempotency_key == f"bulk:{job.pk}:run2:hold"
    job = run_job(job.pk)
    assert (job.status, job.succeeded, job.failed, job.invalid, job.credits_spent) == (
        "completed",
        3,
        1,
        1,
        3,
    )
    assert BulkItem.objects.get(job=job, value=NOT_FOUND).status == "succeeded"
    assert job.started_at == first_start  # the job's first start is kept; its second run started later
    assert job.run_started_at > first_start
    assert balance_get(user=user) == 7
    assert_books_balance(job)


def test_retry_needs_a_finished_job_with_failed_items():
    user = funded_user(credits=10)
    running = create_job(user, asins(2))
    done = run_job(create_job(user, asins(2, start=2)).pk)

    with pytest.raises(ConflictError) as still_running:
        services.bulk_job_retry(job=running)
    with pytest.raises(ConflictError) as nothing:
        services.bulk_job_retry(job=done)

    assert still_running.value.code == "job_running"
    assert nothing.value.code == "nothing_to_retry"


def test_retry_without_the_credits_for_it_is_402_and_changes_nothing():
    user = funded_user(credits=1)
    job = run_job(create_job(user, [NOT_FOUND]).pk)
    credits_adjust(user=user, amount=-1, reason="spent elsewhere", actor=None)

    with pytest.raises(InsufficientCredits):
        services.bulk_job_retry(job=job)

    job.refresh_from_db()
    assert (job.status, job.run, job.failed) == ("failed", 1, 1)


# --- Retention ---------------------------------------------------------------------------------


def test_deleting_results_keeps_the_record_and_says_when():
    user = funded_user(credits=10)
    job = run_job(create_job(user, [*asins(2), NOT_FOUND]).pk)
    before = timezone.now()

    assert services.bulk_job_results_delete(job=job) == 2

    job.refresh_from_db()
    assert job.results_deleted_at is not None
    assert job.results_deleted_at >= before
    assert not BulkItem.objects.filter(job=job, result__isnull=False).exists()
    items = BulkItem.objects.filter(job=job).order_by("row")
    assert [(i.status, i.credits, i.error_code) for i in items] == [
        ("succeeded", 1, ""),
        ("succeeded", 1, ""),
        ("failed", 0, "product_not_found"),
    ]
    assert (job.status, job.succeeded, job.credits_spent) == ("completed", 2, 2)
    first = job.results_deleted_at
    assert services.bulk_job_results_delete(job=job) == 0
    job.refresh_from_db()
    assert job.results_deleted_at == first  # the first date stays
    assert_books_balance(job)


def test_the_results_of_a_running_job_are_not_deleted(settings):
    settings.BULK_CHUNK_SIZE = 1
    job = create_job(funded_user(credits=10), asins(2))
    services.bulk_job_work(job_id=job.pk, worker="test", time_budget=0)  # one chunk: one item of two
    job.refresh_from_db()
    assert (job.status, job.succeeded) == ("running", 1)

    with pytest.raises(ConflictError) as refused:
        services.bulk_job_results_delete(job=job)

    assert refused.value.code == "job_running"
    job.refresh_from_db()
    assert job.results_deleted_at is None
    assert BulkItem.objects.filter(job=job, result__isnull=False).exists()


def test_a_job_whose_results_were_deleted_cannot_be_retried():
    user = funded_user(credits=10)
    job = run_job(create_job(user, [asins(1)[0], NOT_FOUND]).pk)
    services.bulk_job_results_delete(job=job)

    with pytest.raises(ConflictError) as refused:
        services.bulk_job_retry(job=job)

    assert refused.value.code == "results_expired"
    job.refresh_from_db()
    assert (job.status, job.run, job.failed) == ("completed", 1, 1)
    assert balance_get(user=user) == 9


def test_the_export_check_answers_410_once_results_were_deleted():
    job = run_job(create_job(funded_user(credits=10), asins(1)).pk)
    selectors.bulk_job_results_check(job=job)  # kept: nothing raised
    services.bulk_job_results_delete(job=job)
    job.refresh_from_db()

    with pytest.raises(DomainError) as gone:
        selectors.bulk_job_results_check(job=job)

    assert (http_status(gone.value), gone.value.code) == (410, "results_expired")
    assert f"removed on {job.results_deleted_at:%Y-%m-%d} (retention)" in gone.value.message
    assert gone.value.extra == {"results_deleted_at": job.results_deleted_at.isoformat()}


# --- Recovery ---------------------------------------------------------------------------------


def test_the_sweep_releases_expired_claims_and_fails_items_whose_workers_keep_dying(settings, monkeypatch):
    settings.BULK_CLAIM_TIMEOUT = 60
    settings.BULK_MAX_ATTEMPTS = 2
    queued: list[int] = []
    monkeypatch.setattr(services, "bulk_job_enqueue", lambda *, job_id, lanes: queued.append(job_id))
    user = funded_user(credits=10)
    job = create_job(user, asins(3))
    later = timezone.now()
    for attempt in (1, 2):
        claimed = services._claim(job.pk, token=f"dead-{attempt}", worker="w", size=10)
        assert len(claimed) == 3
        later += timedelta(seconds=61)
        report = services.bulk_jobs_sweep(now=later)

    assert (report.released, report.abandoned) == (0, 3)
    job.refresh_from_db()
    assert (job.status, job.failed, job.credits_spent) == ("failed", 3, 0)
    assert set(BulkItem.objects.filter(job=job).values_list("error_code", flat=True)) == {
        "processing_abandoned"
    }
    assert balance_get(user=user) == 10
    assert queued == [job.pk]  # after the first release the job was quiet with items due: queued again
    assert_books_balance(job)


def test_the_sweep_queues_quiet_jobs_and_gives_up_on_stuck_ones(settings, monkeypatch):
    settings.BULK_STALL_SECONDS = 60
    settings.BULK_GIVE_UP_SECONDS = 3600
    queued: list[int] = []
    monkeypatch.setattr(services, "bulk_job_enqueue", lambda *, job_id, lanes: queued.append(job_id))
    user = funded_user(credits=10)
    lost = create_job(user, asins(2))  # its message was lost
    stuck = create_job(user, asins(2, start=2))
    BulkJob.objects.filter(pk=stuck.pk).update(progress_at=timezone.now() - timedelta(hours=2))
    busy = create_job(user, asins(2, start=4))

    nothing_yet = services.bulk_jobs_sweep()
    BulkJob.objects.filter(pk=busy.pk).update(heartbeat_at=timezone.now() + timedelta(seconds=120))
    report = services.bulk_jobs_sweep(now=timezone.now() + timedelta(seconds=61))

    assert nothing_yet.requeued == []
    assert report.requeued == [lost.pk]
    assert queued == [lost.pk]
    assert report.gave_up == 2
    stuck.refresh_from_db()
    assert (stuck.status, stuck.failed) == ("failed", 2)
    assert BulkItem.objects.filter(job=stuck, error_code="job_stalled").count() == 2
    assert balance_get(user=user) == 10 - 4
    assert_books_balance(stuck)


def test_a_restarted_worker_releases_what_it_held_when_it_died():
    user = funded_user(credits=10)
    job = create_job(user, asins(4))
    services._claim(job.pk, token="before-crash", worker="celery@host-a", size=2)
    services._claim(job.pk, token="other", worker="celery@host-b", size=2)

    released = services.bulk_claims_release_worker(
        worker="celery@host-a", claimed_before=timezone.now() + timedelta(seconds=1)
    )

    assert released == 2
    assert BulkItem.objects.filter(job=job, status=Status.CLAIMED, claimed_by="celery@host-b").count() == 2
    assert BulkItem.objects.filter(job=job, status=Status.PENDING).count() == 2
    assert services.bulk_claims_release_worker(worker="", claimed_before=timezone.now()) == 0


def test_a_restarted_worker_queues_again_each_job_it_released_claims_of(
    django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.BULK_MAX_ATTEMPTS = 2
    user = funded_user(credits=20)
    mine = create_job(user, asins(4))
    worn_out = create_job(user, asins(4, start=10))  # its claimed items on their last attempt
    theirs = create_job(user, asins(4, start=20))
    services._claim(mine.pk, token="before-crash", worker="celery@host-a", size=2)
    services._claim(worn_out.pk, token="before-crash-2", worker="celery@host-a", size=2)
    BulkItem.objects.filter(job=worn_out, status=Status.CLAIMED).update(attempts=2)
    services._claim(theirs.pk, token="other", worker="celery@host-b", size=2)
    queued: list[tuple[int, int]] = []
    monkeypatch.setattr(services, "bulk_job_enqueue", lambda *, job_id, lanes: queued.append((job_id, lanes)))
    started = timezone.now() + timedelta(seconds=1)

    with django_capture_on_commit_callbacks(execute=True):
        released = services.bulk_claims_release_worker(worker="celery@host-a", claimed_before=started)
        again = services.bulk_claims_release_worker(worker="celery@host-a", claimed_before=started)

    assert (released, again) == (4, 0)
    # The lane that died with the worker is replaced, also for the job whose claimed items were
    # given up: its other items are still pending. Nothing for the other worker's job.
    assert sorted(queued) == sorted([(mine.pk, 1), (worn_out.pk, 1)])
    assert BulkItem.objects.filter(job=worn_out, status=Status.FAILED).count() == 2
    assert BulkItem.objects.filter(job=worn_out, status=Status.PENDING).count() == 2


@pytest.fixture
def short_heartbeats(settings) -> None:
    """Heartbeats every 0.1 s, a mark lasting 0.5 s: a worker that stops is dead half a second later."""
    settings.BULK_WORKER_HEARTBEAT_SECONDS = 0.1
    settings.BULK_WORKER_ALIVE_SECONDS = 0.5


def test_the_claims_of_a_worker_whose_heartbeats_stopped_are_released_and_its_jobs_queued_again(
    short_heartbeats, django_capture_on_commit_callbacks, monkeypatch, settings
):
    # Marks lasting 2 s here, not 0.5: what happens after the sleep (celery@busy's heartbeat,
    # celery@lagging's claim, both releases) must all fit inside one mark's life, and on a loaded
    # machine those steps took longer than half a second.
    settings.BULK_WORKER_ALIVE_SECONDS = 2.0
    user = funded_user(credits=40)
    orphaned = create_job(user, asins(4))
    busy = create_job(user, asins(4, start=10))
    unknown = create_job(user, asins(4, start=20))
    lagging = create_job(user, asins(4, start=30))
    for worker in ("celery@killed", "celery@busy", "celery@lagging"):
        heartbeats.bulk_worker_heartbeat(worker=worker)
    services._claim(orphaned.pk, token="t1", worker="celery@killed", size=2)
    services._claim(busy.pk, token="t2", worker="celery@busy", size=2)
    # A worker never seen sending heartbeats (of a release without them): left to the claim timeout.
    services._claim(unknown.pk, token="t3", worker="celery@earlier-release", size=2)
    time.sleep(2.2)  # every mark expires; celery@busy's next heartbeat comes
    heartbeats.bulk_worker_heartbeat(worker="celery@busy")
    # Its mark lapsed a moment (a slow cache): what it claimed since is not taken from it.
    services._claim(lagging.pk, token="t4", worker="celery@lagging", size=2)
    queued: list[tuple[int, int]] = []
    monkeypatch.setattr(services, "bulk_job_enqueue", lambda *, job_id, lanes: queued.append((job_id, lanes)))

    with django_capture_on_commit_callbacks(execute=True):
        released = services.bulk_claims_release_dead_workers()
        again = services.bulk_claims_release_dead_workers()

    assert (released, again) == (2, 0)
    assert queued == [(orphaned.pk, 1)]
    assert BulkItem.objects.filter(job=orphaned, status=Status.PENDING).count() == 4
    claimed = BulkItem.objects.filter(status=Status.CLAIMED)
    assert sorted(claimed.values_list("claimed_by", flat=True)) == [
        "celery@busy",
        "celery@busy",
        "celery@earlier-release",
        "celery@earlier-release",
        "celery@lagging",
        "celery@lagging",
    ]
    assert heartbeats.bulk_workers_dead(
        workers=["celery@killed", "celery@busy", "celery@earlier-release"]
    ) == ["celery@killed"]


def test_no_worker_is_presumed_dead_while_the_cache_does_not_answer(short_heartbeats, monkeypatch):
    job = create_job(funded_user(credits=10), asins(2))
    heartbeats.bulk_worker_heartbeat(worker="celery@killed")
    services._claim(job.pk, token="t1", worker="celery@killed", size=2)
    time.sleep(0.7)

    class CacheDown:
        def get_many(self, keys):
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(heartbeats, "cache", CacheDown())

    assert services.bulk_claims_release_dead_workers() == 0
    assert BulkItem.objects.filter(job=job, status=Status.CLAIMED).count() == 2


def test_the_sweep_releases_the_claims_of_workers_whose_heartbeats_stopped(
    short_heartbeats, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[int] = []
    monkeypatch.setattr(services, "bulk_job_enqueue", lambda *, job_id, lanes: queued.append(job_id))
    job = create_job(funded_user(credits=10), asins(3))
    heartbeats.bulk_worker_heartbeat(worker="celery@killed")
    services._claim(job.pk, token="t1", worker="celery@killed", size=2)
    time.sleep(0.7)

    with django_capture_on_commit_callbacks(execute=True):
        report = services.bulk_jobs_sweep()

    assert (report.dead_workers, report.released, report.abandoned) == (2, 0, 0)
    assert BulkItem.objects.filter(job=job, status=Status.PENDING).count() == 3
    assert queued == [job.pk]


# --- The email --------------------------------------------------------------------------------


def test_the_owner_is_emailed_once_when_the_job_finishes(
    eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "http://127.0.0.1:8123"
    user = funded_user(credits=10)
    job = create_job(user, [*asins(2), NOT_FOUND])

    with django_capture_on_commit_callbacks(execute=True):
        job = run_job(job.pk)
    services.bulk_job_notify(job_id=job.pk)  # again: a redelivered task

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == f"Bulk job #{job.pk} completed: 2 of 3 delivered"
    assert "Credits used: 2 of 3 held" in message.body
    assert f"http://127.0.0.1:8123/bulk/{job.pk}/" in message.body  # links point to SITE_URL
    html = assert_platform_email(message, link=f"http://127.0.0.1:8123/bulk/{job.pk}/")
    assert "Credits used: 2 of 3 held" in html
    assert "Delivered: 2" in html


def test_a_failed_email_can_be_sent_again(monkeypatch):
    job = run_job(create_job(funded_user(credits=2), asins(1)).pk)

    def broken(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr(services, "send_templated", broken)
    with pytest.raises(OSError, match="SMTP down"):
        services.bulk_job_notify(job_id=job.pk)
    monkeypatch.undo()

    assert services.bulk_job_notify(job_id=job.pk) is True
    assert len(mail.outbox) == 1


# --- Seeing it ----------------------------------------------------------------------------------


def test_progress_gives_the_time_left_at_the_pace_so_far():
    job = create_job(funded_user(credits=200), asins(100))
    now = timezone.now()
    BulkJob.objects.filter(pk=job.pk).update(
        status="running", run_started_at=now - timedelta(seconds=30), succeeded=20, failed=5
    )
    job.refresh_from_db()

    progress = selectors.bulk_job_progress(job=job, now=now)

    assert (progress.processed, progress.remaining, progress.percent) == (25, 75, 25)
    assert progress.items_per_minute == pytest.approx(50)
    assert progress.eta_seconds == pytest.approx(90)


def test_the_time_left_is_never_less_than_the_wait_for_a_scheduled_retry(settings):
    # The reported case: 49 of 50 delivered at once (98%), the last waits 2 minutes for its retry.
    settings.BULK_RETRY_DELAY = 120
    settings.BULK_RETRY_DELAY_MAX = 600
    job = create_job(funded_user(credits=50), [*asins(49), OUTAGE])
    services.bulk_job_work(job_id=job.pk, time_budget=0)
    job.refresh_from_db()
    now = timezone.now()

    progress = selectors.bulk_job_progress(job=job, now=now)

    item = BulkItem.objects.get(job=job, value=OUTAGE)
    wait = (item.available_at - now).total_seconds()
    assert 100 < wait <= 120
    assert (progress.percent, progress.remaining, progress.retrying) == (98, 1, 1)
    assert progress.items_per_minute > 60  # at that pace the last item alone would take under a second
    assert progress.eta_seconds == pytest.approx(wait)
    assert progress.next_retry_seconds == pytest.approx(wait)
    assert progress.retry_reason == item.error_message != ""


def test_the_time_left_is_unknown_before_any_item_of_the_run_finished():
    job = create_job(funded_user(credits=5), asins(3))
    BulkJob.objects.filter(pk=job.pk).update(status="running", run_started_at=timezone.now())
    job.refresh_from_db()

    progress = selectors.bulk_job_progress(job=job)

    assert (progress.eta_seconds, progress.items_per_minute, progress.retrying) == (None, None, 0)


def test_items_being_retried_are_told_apart_through_the_engines_own_steps(settings):
    settings.BULK_RETRY_DELAY = 60
    settings.BULK_MAX_ATTEMPTS = 3
    job = create_job(funded_user(credits=10), [*asins(2), OUTAGE])
    assert selectors.bulk_job_items_filtered(job=job, status="retrying").count() == 0
    assert selectors.bulk_job_item_counts(job=job)["pending"] == 3

    services.bulk_job_work(job_id=job.pk, time_budget=0)  # the outage is put back, with its backoff
    job.refresh_from_db()

    def rows(name: str) -> list[tuple[int, str, int, bool]]:
        return [
            (item.row, item.status, item.attempts, item.is_retrying)
            for item in selectors.bulk_job_items_filtered(job=job, status=name)
        ]

    assert rows("retrying") == [(3, "pending", 1, True)]
    assert rows("pending") == []
    assert [row for row, *_ in rows("succeeded")] == [1, 2]
    assert selectors.bulk_job_item_counts(job=job) == {
        "all": 3,
        "succeeded": 2,
        "failed": 0,
        "invalid": 0,
        "pending": 0,
        "retrying": 1,
        "cancelled": 0,
    }
    # Due again and claimed for its second attempt: still being retried.
    BulkItem.objects.filter(job=job).update(available_at=timezone.now())
    [claimed] = services._claim(job.pk, token="t2", worker="w", size=10)
    assert claimed.attempts == 2
    assert rows("retrying") == [(3, "claimed", 2, True)]
    retries = selectors.bulk_job_retries(job=job)
    assert (retries.count, retries.next_at) == (1, None)  # being tried now: no backoff to wait for


def test_a_claim_released_after_its_worker_was_lost_is_being_retried():
    job = create_job(funded_user(credits=5), asins(2))
    started = timezone.now()
    services._claim(job.pk, token="t1", worker="celery@gone", size=1)
    assert selectors.bulk_job_item_counts(job=job)["retrying"] == 0  # a first attempt under way

    services.bulk_claims_release_worker(worker="celery@gone", claimed_before=started + timedelta(seconds=1))

    [item] = selectors.bulk_job_items_filtered(job=job, status="retrying")
    assert (item.row, item.status, item.attempts, item.error_code) == (1, "pending", 1, "")
    assert [i.row for i in selectors.bulk_job_items_filtered(job=job, status="pending")] == [2]


def test_an_unknown_item_filter_is_a_400_naming_the_valid_ones():
    job = create_job(funded_user(credits=5), asins(1))

    with pytest.raises(DomainError) as info:
        selectors.bulk_job_items_filtered(job=job, status="done")

    assert http_status(info.value) == 400
    assert info.value.code == "invalid_filter"
    assert "use one of all, succeeded, failed, invalid, pending, retrying, cancelled" in info.value.message


def test_a_kind_without_a_summary_shows_its_first_export_columns():
    kind = BulkKind(
        name="plain",
        label="plain",
        operation="bulk_item",
        input_label="value",
        input_column="value",
        normalize=str.strip,
        process=lambda job, items: {},
        export_columns=tuple(
            kinds.ExportColumn(name, lambda r, name=name: r.get(name)) for name in ("a", "b", "c", "d")
        ),
    )

    assert kinds.bulk_result_summary(kind, {"a": "x", "b": None, "c": 3, "d": "y"}) == "a: x, c: 3, d: y"
    assert kinds.bulk_result_summary(kind, {"a": 1, "b": 2, "c": 3, "d": 4}) == "a: 1, b: 2, c: 3"
    assert kinds.bulk_result_summary(kind, None) == ""
    asin_kind = bulk_kind_get("asin_lookup")
    record = {"title": "Blue bottle", "brand": "Acme", "price": {"amount": "9.99", "currency": "EUR"}}
    assert kinds.bulk_result_summary(asin_kind, record) == "Blue bottle · Acme · 9.99 EUR"


def test_another_users_job_is_not_found():
    job = create_job(funded_user(credits=2), asins(1))

    with pytest.raises(DomainError) as info:
        selectors.bulk_job_get(user=funded_user(), job_id=job.pk)

    assert http_status(info.value) == 404


# --- Concurrency on PostgreSQL ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_skip_locked_rows_instead_of_waiting():
    job = create_job(funded_user(credits=10), asins(6))
    holding = threading.Event()
    release = threading.Event()
    claimed: dict[str, list[int]] = {}

    def slow_claimer() -> None:
        try:
            with transaction.atomic():  # keeps its rows locked until released
                items = services._claim_items(job.pk, token="slow", worker="a", size=3, now=timezone.now())
                claimed["slow"] = [item.id for item in items]
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_claimer)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    try:
        claimed["fast"] = [i.id for i in services._claim(job.pk, token="fast", worker="b", size=10)]
    finally:
        release.set()
        thread.join(10)

    assert time.monotonic() - started < 2  # it did not wait for the other transaction
    assert len(claimed["slow"]) == 3
    assert len(claimed["fast"]) == 3
    assert not set(claimed["slow"]) & set(claimed["fast"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_workers_at_once_deliver_each_item_exactly_once(settings):
    settings.BULK_CHUNK_SIZE = 7
    user = funded_user(credits=100)
    job = create_job(user, [*asins(60), NOT_FOUND])
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            for _ in range(20):
                services.bulk_job_work(job_id=job.pk, worker=f"w{index}", time_budget=0)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    job.refresh_from_db()
    assert (job.status, job.succeeded, job.failed) == ("completed", 60, 1)
    assert set(BulkItem.objects.filter(job=job, status="succeeded").values_list("attempts", flat=True)) == {1}
    assert len(set(BulkItem.objects.filter(job=job).values_list("claimed_by", flat=True))) == 1  # all cleared
    assert balance_get(user=user) == 40
    assert_books_balance(job)
