"""Reads of scheduled collections: a user's collections and a collection's runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from core.errors import NotFoundError
from jobs.bulk.selectors import bulk_job_results_check
from jobs.models import BulkJob, Collection, CollectionRun

if TYPE_CHECKING:
    from accounts.models import User


def collection_list(*, user: User) -> QuerySet[Collection]:
    """``user``'s collections, by name."""
    return Collection.objects.filter(user=user).order_by("name", "id")


def collection_get(*, user: User, collection_id: int) -> Collection:
    """``user``'s collection; another user's is not found (404), as a missing one is."""
    collection = Collection.objects.filter(pk=collection_id, user=user).first()
    if collection is None:
        raise NotFoundError("No such collection.", code="collection_not_found")
    return collection


def collection_run_list(*, collection: Collection) -> QuerySet[CollectionRun]:
    """The collection's runs, newest slot first, with their bulk jobs."""
    return CollectionRun.objects.filter(collection=collection).select_related("job").order_by("-slot", "-id")


def collection_run_get(*, collection: Collection, run_id: int) -> CollectionRun:
    run = collection_run_list(collection=collection).filter(pk=run_id).first()
    if run is None:
        raise NotFoundError("No such run of this collection.", code="run_not_found")
    return run


def collection_run_results_job(*, run: CollectionRun) -> BulkJob:
    """The bulk job holding the run's results; a 404 when the run has none (skipped), a 410
    once they were deleted (``COLLECTION_RESULTS_RETENTION_DAYS``): the bulk job's own check,
    on its ``results_deleted_at``, set in the transaction that deleted them."""
    if run.job is None:
        raise NotFoundError("This run has no results: it was skipped or not started.", code="no_results")
    bulk_job_results_check(job=run.job)
    return run.job
