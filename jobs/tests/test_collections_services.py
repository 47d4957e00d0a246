"""Scheduled collections' services: input, cost, slots claimed once, runs started through the
bulk engine, skipped runs that charge nothing, the skipped-run email, retention."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from core.api_errors import http_status
from core.errors import ConflictError, DomainError
from core.tests.emails import assert_platform_email
from credits.models import CreditHold, LedgerEntry
from credits.selectors import accounts_out_of_balance, balance_get, price_cache_clear
from credits.services import credits_grant, price_set
from credits.tests.factories import funded_user, new_key
from jobs.bulk import services as bulk_services
from jobs.collections import services
from jobs.models import BulkItem, BulkJob, Collection, CollectionRun, Schedule
from jobs.tests.bulk_helpers import asins, assert_books_balance, run_job
from jobs.tests.collection_factories import make_collection

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def due_run(collection: Collection) -> CollectionRun:
    """Claim the collection's first scheduled slot (its clock moved past it)."""
    assert collection.next_run_at is not None
    run = services.collection_slot_claim(collection_id=collection.pk, now=collection.next_run_at)
    assert run is not None
    return run


# --- Collections and their cost ----------------------------------------------------------------


@pytest.fixture
def fresh_prices():
    yield
    price_cache_clear()  # the price set in the test is rolled back with it


def test_a_collection_keeps_its_items_normalised_and_distinct_and_prices_a_run(fresh_prices):
    user = funded_user()
    collection = services.collection_create(
        user=user, name="  Mine ", items=["b0blk00001", "B0BLK00002", "B0BLK00001", ""], marketplace="de"
    )
    assert (collection.name, collection.items, collection.item_count) == (
        "Mine",
        ["B0BLK00001", "B0BLK00002"],
        2,
    )
    assert collection.marketplace == "DE"
    cost = services.collection_cost(kind=collection.kind, items=collection.item_count)
    assert (cost.items, cost.price, cost.total, cost.operation) == (2, 1, 2, "bulk_item")

    price_set(operation="fnsku_conversion", credits=3)
    price_cache_clear()
    fnskus = services.collection_create(user=user, name="F", kind="fnsku_conversion", items=["x001abcdef"])
    assert fnskus.items == ["X001ABCDEF"]
    assert services.collection_cost(kind=fnskus.kind, items=1).total == 3


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"items": ["B0BLK00001", "nope", "B0BLK0000!"]}, "invalid_items"),
        ({"items": []}, "empty_list"),
        ({"items": ["B0BLK00001"], "kind": "upc_lookup"}, "invalid_kind"),
        ({"items": ["B0BLK00001"], "schedule": "yearly"}, "invalid_schedule"),
        ({"items": ["B0BLK00001"], "marketplace": "XX"}, "invalid_marketplace"),
        ({"items": ["B0BLK00001"], "name": " "}, "invalid_name"),
        ({"items": ["X001ABCDE"], "kind": "fnsku_conversion"}, "invalid_items"),
    ],
)
def test_bad_input_is_a_400_that_saves_nothing(fields, code):
    with pytest.raises(DomainError) as error:
        services.collection_create(user=funded_user(), **{"name": "C", **fields})
    assert (error.value.code, http_status(error.value)) == (code, 400)
    assert Collection.objects.count() == 0
    if code == "invalid_items" and "kind" not in fields:
        assert [row["row"] for row in error.value.extra["rows"]] == [2, 3]


def test_the_number_of_items_is_bounded(settings):
    settings.BULK_MAX_ROWS = 5
    with pytest.raises(DomainError) as error:
        services.collection_create(user=funded_user(), name="C", items=asins(6))
    assert error.value.code == "too_many_rows"


# --- Claiming slots ------------------------------------------------------------------------------


def test_a_slot_is_claimed_once_however_often_it_is_asked(django_capture_on_commit_callbacks):
    user = funded_user(credits=100)
    collection = make_collection(user, now=T0)
    slot = T0 + timedelta(days=1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = services.collections_run_due(now=slot + timedelta(seconds=5))
        again = services.collections_run_due(now=slot + timedelta(seconds=65))  # the next tick
    assert len(first.claimed) == 1
    assert again.claimed == []
    assert len(callbacks) == 1  # one start queued
    # Claiming that slot by hand (a redelivered task racing the tick) is a no-op: the row is unique.
    collection.refresh_from_db()
    Collection.objects.filter(pk=collection.pk).update(next_run_at=slot)
    assert (
        services.collection_slot_claim(collection_id=collection.pk, now=slot + timedelta(minutes=1)) is None
    )
    assert CollectionRun.objects.filter(collection=collection).count() == 1
    assert CollectionRun.objects.get().slot == slot


def test_starting_a_run_twice_creates_one_job():
    user = funded_user(credits=100)
    run = due_run(make_collection(user, 3, now=T0))

    started = services.collection_run_start(run_id=run.pk)
    again = services.collection_run_start(run_id=run.pk)

    assert started.status == again.status == "started"
    assert started.job_id == again.job_id
    job = BulkJob.objects.get()
    assert (job.kind, job.params, job.total, job.credits_held) == ("asin_lookup", {"marketplace": "US"}, 3, 3)
    assert job.idempotency_key == f"collection-run:{run.pk}"
    assert job.filename == "Collection: Watch"
    assert balance_get(user=user) == 97
    # A start lost after the job was created (the run still pending) finds the same job.
    CollectionRun.objects.filter(pk=run.pk).update(status="pending", job=None)
    assert services.collection_run_start(run_id=run.pk).job_id == job.pk
    assert BulkJob.objects.count() == 1


def test_a_started_run_completes_through_the_bulk_engine():
    user = funded_user(credits=100)
    collection = make_collection(user, 4, now=T0)
    run = services.collection_run_start(run_id=due_run(collection).pk)

    job = run_job(run.job_id)

    assert (job.status, job.succeeded, job.credits_spent) == ("completed", 4, 4)
    assert balance_get(user=user) == 96
    assert_books_balance(job)
    assert BulkItem.objects.filter(job=job, result__asin__isnull=False).count() == 4


# --- Skipped runs ---------------------------------------------------------------------------------


def test_a_run_the_balance_cannot_cover_is_skipped_charges_nothing_and_is_emailed(
    django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.SITE_URL = "https://platform.example"
    user = funded_user(credits=2)
    collection = make_collection(user, 3, now=T0)
    entries_before = LedgerEntry.objects.count()
    notified: list[int] = []
    monkeypatch.setattr(services, "_notify_later", notified.append)

    with django_capture_on_commit_callbacks(execute=True):
        run = services.collection_run_start(run_id=due_run(collection).pk)

    assert (run.status, run.reason_code, run.job_id) == ("skipped", "insufficient_credits", None)
    assert "this costs 3 and your balance is 2" in run.reason
    assert (run.items, run.cost) == (3, 3)
    assert balance_get(user=user) == 2
    assert LedgerEntry.objects.count() == entries_before
    assert BulkJob.objects.count() == 0
    assert CreditHold.objects.count() == 0
    assert accounts_out_of_balance() == []
    assert notified == [run.pk]

    assert services.collection_run_notify(run_id=run.pk) is True
    assert services.collection_run_notify(run_id=run.pk) is False  # once
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject == 'Collection "Watch": run skipped'
    assert "this costs 3 and your balance is 2" in message.body
    assert "Nothing was charged" in message.body
    assert f"https://platform.example/collections/{collection.pk}/" in message.body
    assert "Buy credits: https://platform.example/billing/" in message.body
    html = assert_platform_email(message, link=f"https://platform.example/collections/{collection.pk}/")
    assert 'href="https://platform.example/billing/"' in html
    assert "this costs 3 and your balance is 2" in html

    # Funded again, the next slot runs.
    credits_grant(user=user, amount=10, reason="top up", idempotency_key=new_key())
    collection.refresh_from_db()
    next_run = services.collection_run_start(run_id=due_run(collection).pk)
    assert next_run.status == "started"
    assert balance_get(user=user) == 9


def test_a_run_while_the_previous_one_is_still_going_is_skipped():
    user = funded_user(credits=100)
    collection = make_collection(user, 2, now=T0)
    first = services.collection_run_start(run_id=due_run(collection).pk)
    collection.refresh_from_db()
    second = services.collection_run_start(run_id=due_run(collection).pk)
    assert first.status == "started"
    assert (second.status, second.reason_code) == ("skipped", "previous_run_active")


def test_a_run_skipped_for_another_reason_than_the_balance_is_emailed_without_a_billing_link(settings):
    settings.SITE_URL = "http://127.0.0.1:8123"
    user = funded_user(credits=100)
    collection = make_collection(user, 2, now=T0)
    collection.name = 'Tom & Jerry "deals"'
    collection.save(update_fields=["name"])
    services.collection_run_start(run_id=due_run(collection).pk)
    collection.refresh_from_db()
    skipped = services.collection_run_start(run_id=due_run(collection).pk)

    assert services.collection_run_notify(run_id=skipped.pk) is True

    message = mail.outbox[-1]
    assert message.subject == 'Collection "Tom & Jerry "deals"": run skipped'  # plain text, not HTML-escaped
    assert 'run of your collection "Tom & Jerry "deals"" was skipped' in message.body
    html = assert_platform_email(message, link=f"http://127.0.0.1:8123/collections/{collection.pk}/")
    assert "Tom &amp; Jerry" in html
    assert "Buy credits" not in message.body
    assert "/billing/" not in html
    assert BulkJob.objects.count() == 1


def test_run_now_starts_at_once_refuses_overlap_and_answers_402_when_short():
    user = funded_user(credits=5)
    collection = make_collection(user, 3, schedule=Schedule.ON_DEMAND)

    run = services.collection_run_now(collection=collection)
    assert (run.trigger, run.status) == ("manual", "started")
    with pytest.raises(ConflictError) as conflict:
        services.collection_run_now(collection=collection)
    assert conflict.value.code == "run_in_progress"

    run_job(run.job_id)
    with pytest.raises(DomainError) as short:
        services.collection_run_now(collection=collection)  # balance 2, the run costs 3
    assert (http_status(short.value), short.value.code) == (402, "insufficient_credits")
    skipped = CollectionRun.objects.get(pk=short.value.extra["run"])
    assert (skipped.status, skipped.trigger) == ("skipped", "manual")
    assert balance_get(user=user) == 2
    assert BulkJob.objects.count() == 1


def test_a_collection_has_one_pending_run_at_a_time():
    user = funded_user(credits=100)
    collection = make_collection(user, 2, now=T0)
    next_slot = T0 + timedelta(days=2)
    # The first slot claimed late (just before the next one); its start has not run yet.
    first = services.collection_slot_claim(collection_id=collection.pk, now=next_slot - timedelta(seconds=30))
    assert first is not None
    assert first.status == "pending"

    report = services.collections_run_due(now=next_slot + timedelta(seconds=5))
    assert report.claimed == []  # the next slot waits: two pending runs could both start
    collection.refresh_from_db()
    assert collection.next_run_at == next_slot
    with pytest.raises(ConflictError) as conflict:
        services.collection_run_now(collection=collection)
    assert conflict.value.code == "run_in_progress"
    with pytest.raises(IntegrityError), transaction.atomic():
        CollectionRun.objects.create(collection=collection, slot=T0, trigger="manual", items=2, cost=2)
    assert list(CollectionRun.objects.values_list("pk", flat=True)) == [first.pk]

    assert services.collection_run_start(run_id=first.pk).status == "started"
    report = services.collections_run_due(now=next_slot + timedelta(seconds=65))  # the next tick
    assert len(report.claimed) == 1
    second = services.collection_run_start(run_id=report.claimed[0])
    assert (second.slot, second.status, second.reason_code) == (next_slot, "skipped", "previous_run_active")
    assert BulkJob.objects.count() == 1
    assert balance_get(user=user) == 98


def test_runs_left_pending_are_queued_again_then_given_up(django_capture_on_commit_callbacks):
    user = funded_user(credits=100)
    run = due_run(make_collection(user, now=T0))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = services.collections_run_due(now=run.created_at + timedelta(minutes=5))
    assert report.requeued == [run.pk]
    assert len(callbacks) == 1
    report = services.collections_run_due(now=run.created_at + timedelta(hours=2))
    assert report.given_up == 1
    assert report.requeued == []
    run.refresh_from_db()
    assert (run.status, run.reason_code) == ("skipped", "start_failed")


# --- Retention -----------------------------------------------------------------------------------


def test_expired_results_are_deleted_through_the_bulk_engine(settings):
    settings.COLLECTION_RESULTS_RETENTION_DAYS = 7
    user = funded_user(credits=100)
    collection = make_collection(user, 2, now=T0)
    old = services.collection_run_start(run_id=due_run(collection).pk)
    run_job(old.job_id)
    collection.refresh_from_db()
    recent = services.collection_run_start(run_id=due_run(collection).pk)
    run_job(recent.job_id)
    CollectionRun.objects.filter(pk=old.pk).update(created_at=T0 - timedelta(days=8))
    CollectionRun.objects.filter(pk=recent.pk).update(created_at=T0 - timedelta(days=6))

    assert services.collection_runs_expire_results(now=T0) == 1
    assert services.collection_runs_expire_results(now=T0) == 0

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.results_deleted_at == T0
    assert recent.results_deleted_at is None
    assert not BulkItem.objects.filter(job_id=old.job_id, result__isnull=False).exists()
    assert BulkItem.objects.filter(job_id=recent.job_id, result__isnull=False).count() == 2
    # The record stays: the job, its items' states and what they used.
    job = BulkJob.objects.get(pk=old.job_id)
    assert (job.status, job.succeeded, job.credits_spent) == ("completed", 2, 2)
    assert_books_balance(job)


def test_results_of_a_running_job_are_not_deleted():
    user = funded_user(credits=100)
    run = services.collection_run_start(run_id=due_run(make_collection(user, 2, now=T0)).pk)
    assert run.job is not None
    with pytest.raises(ConflictError):
        bulk_services.bulk_job_results_delete(job=run.job)
    CollectionRun.objects.filter(pk=run.pk).update(created_at=T0 - timedelta(days=400))
    assert services.collection_runs_expire_results() == 0  # waits for the job to finish
    run_job(run.job.pk)
    assert services.collection_runs_expire_results() == 1
