"""A database filled before the models moved to ``jobs`` works after the move.

Migrated back to the state before the move (products' 0004, schedules' 0002, no jobs
migration), filled through the historical models (a bulk job with its items, a collection
with its runs, a permission on the old content type), then migrated forward to the latest:
the same tables, the same rows read through the new models, the permission still granted.
Runs on SQLite and, with DATABASE_URL set, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from jobs.models import BulkItem, BulkJob, Collection, CollectionRun

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_THE_MOVE = [
    ("products", "0004_bulkjob_results_deleted_at"),
    ("schedules", "0002_collectionrun_one_pending"),
]
MOVED_TABLES = {
    "products_bulkjob",
    "products_bulkitem",
    "schedules_collection",
    "schedules_collectionrun",
}
T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


def _migrate(targets: list[tuple[str, str | None]]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def _latest() -> list[tuple[str, str | None]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _rows(table: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY id")  # noqa: S608
        return [tuple(row) for row in cursor.fetchall()]


# Apps added after the move whose migrations depend on jobs': migrating jobs back to zero
# unapplies them too.
APPS_BUILT_ON_JOBS = ["resale"]


def _tables_of_apps_built_on_jobs() -> set[str]:
    return {
        model._meta.db_table
        for label in APPS_BUILT_ON_JOBS
        for model in django_apps.get_app_config(label).get_models()
    }


@pytest.fixture
def before_the_move():
    """The database migrated back to just before the move; forward to the latest afterwards."""
    _migrate([*BEFORE_THE_MOVE, ("jobs", None)])
    yield MigrationExecutor(connection).loader.project_state(BEFORE_THE_MOVE).apps
    _migrate(_latest())


def _fill(old: Any) -> dict[str, Any]:
    user = old.get_model("accounts", "User").objects.create(email="seller@example.com", password="!")
    job = old.get_model("products", "BulkJob").objects.create(
        user=user,
        kind="asin_lookup",
        status="completed",
        params={"marketplace": "DE"},
        source="csv",
        filename="asins.csv",
        idempotency_key="key-1",
        total=3,
        invalid=1,
        succeeded=1,
        failed=2,
        item_price=2,
        credits_held=4,
        credits_spent=2,
        created_at=T0,
        finished_at=T0 + dt.timedelta(minutes=3),
    )
    item_model = old.get_model("products", "BulkItem")
    item_model.objects.create(
        job=job,
        row=2,
        input="B000000001",
        value="B000000001",
        status="succeeded",
        result={"asin": "B000000001", "title": "A product"},
        credits=2,
        finished_at=T0,
    )
    item_model.objects.create(
        job=job,
        row=3,
        input="B00000000X",
        value="B00000000X",
        status="failed",
        error_code="product_not_found",
    )
    item_model.objects.create(job=job, row=4, input="nope", status="invalid", error_code="invalid_asin")
    collection = old.get_model("schedules", "Collection").objects.create(
        user=user,
        name="Weekly movers",
        kind="asin_lookup",
        marketplace="DE",
        items=["B000000001", "B00000000X"],
        item_count=2,
        schedule="weekly",
        schedule_anchor=T0,
        next_run_at=T0 + dt.timedelta(days=7),
    )
    run_model = old.get_model("schedules", "CollectionRun")
    run_model.objects.create(
        collection=collection, slot=T0, trigger="schedule", status="started", items=2, cost=4, job=job
    )
    run_model.objects.create(
        collection=collection,
        slot=T0 - dt.timedelta(days=7),
        trigger="schedule",
        status="skipped",
        reason_code="insufficient_credits",
        reason="Not enough credits.",
        items=2,
        cost=4,
    )

    # An operator allowed to view bulk jobs through a group, on the old content type.
    content_type = old.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="jobs").delete()  # as on a database never migrated past the move
    old_type = content_type.objects.get_or_create(app_label="products", model="bulkjob")[0]
    permission = old.get_model("auth", "Permission").objects.get_or_create(
        content_type=old_type, codename="view_bulkjob", defaults={"name": "Can view bulk job"}
    )[0]
    group = old.get_model("auth", "Group").objects.create(name="Support")
    group.permissions.add(permission)
    operator = old.get_model("accounts", "User").objects.create(email="support@example.com", password="!")
    operator.groups.add(group)
    return {"user": user.pk, "job": job.pk, "collection": collection.pk, "operator": operator.pk}


def test_a_database_filled_before_the_move_reads_the_same_after_it(before_the_move):
    ids = _fill(before_the_move)
    tables_before = set(connection.introspection.table_names())
    rows_before = {table: _rows(table) for table in MOVED_TABLES}

    _migrate(_latest())

    # Nothing created or dropped by the move; only the tables of apps built on jobs after it
    # (unapplied with jobs by the fixture) come back.
    tables_after = set(connection.introspection.table_names())
    assert tables_before <= tables_after
    assert tables_after - tables_before <= _tables_of_apps_built_on_jobs()
    assert {model._meta.db_table for model in (BulkJob, BulkItem, Collection, CollectionRun)} == MOVED_TABLES
    assert {table: _rows(table) for table in MOVED_TABLES} == rows_before

    job = BulkJob.objects.get(pk=ids["job"])
    assert (job.user_id, job.kind, job.status, job.params, job.filename) == (
        ids["user"],
        "asin_lookup",
        BulkJob.Status.COMPLETED,
        {"marketplace": "DE"},
        "asins.csv",
    )
    assert (job.total, job.processed, job.credits_held, job.credits_spent, job.is_final) == (3, 3, 4, 2, True)
    assert job.created_at == T0
    items = list(job.items.order_by("row").values_list("row", "status", "credits", "result"))
    assert items == [
        (2, "succeeded", 2, {"asin": "B000000001", "title": "A product"}),
        (3, "failed", 0, None),
        (4, "invalid", 0, None),
    ]

    collection = Collection.objects.get(pk=ids["collection"])
    assert (collection.name, collection.items, collection.schedule) == (
        "Weekly movers",
        ["B000000001", "B00000000X"],
        "weekly",
    )
    runs = list(collection.runs.all())  # newest slot first
    assert [(run.status, run.job) for run in runs] == [("started", job), ("skipped", None)]
    assert runs[1].reason_code == "insufficient_credits"


def test_permissions_on_the_moved_models_keep_working(before_the_move):
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    ids = _fill(before_the_move)
    _migrate(_latest())
    ContentType.objects.clear_cache()

    assert ContentType.objects.get_for_model(BulkJob).app_label == "jobs"
    assert not ContentType.objects.filter(app_label="products", model="bulkjob").exists()
    assert get_user_model().objects.get(pk=ids["operator"]).has_perm("jobs.view_bulkjob")


def test_moving_back_and_forth_keeps_the_rows(before_the_move):
    """The move's migrations can be unapplied (state only) and applied again."""
    ids = _fill(before_the_move)
    _migrate(_latest())
    _migrate([*BEFORE_THE_MOVE, ("jobs", None)])
    _migrate(_latest())

    assert BulkJob.objects.get(pk=ids["job"]).items.count() == 3
    assert CollectionRun.objects.filter(collection_id=ids["collection"]).count() == 2
