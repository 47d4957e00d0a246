"""Reads of bulk jobs: a user's jobs, their items, progress and the time left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from core.errors import GoneError, NotFoundError
from jobs.models import BulkItem, BulkJob

if TYPE_CHECKING:
    from accounts.models import User


def bulk_job_list(*, user: User) -> QuerySet[BulkJob]:
    """``user``'s jobs, newest first."""
    return BulkJob.objects.filter(user=user).order_by("-created_at", "-id")


def bulk_job_get(*, user: User, job_id: int) -> BulkJob:
    """``user``'s job ``job_id``; another user's job is not found (404), as a missing one is."""
    job = BulkJob.objects.filter(pk=job_id, user=user).first()
    if job is None:
        raise NotFoundError("No such bulk job.", code="job_not_found")
    return job


def bulk_job_results_check(*, job: BulkJob) -> None:
    """Raise 410 (``results_expired``) when retention deleted the job's results: the exports of
    every kind of job (and of the scheduled runs built on them) ask here before streaming."""
    if job.results_deleted_at is not None:
        raise GoneError(
            f"The results of bulk job #{job.pk} were removed on {job.results_deleted_at:%Y-%m-%d} "
            "(retention): results are kept for a limited time after a job finishes.",
            code="results_expired",
            extra={"results_deleted_at": job.results_deleted_at.isoformat()},
        )


def bulk_job_items(*, job: BulkJob) -> QuerySet[BulkItem]:
    """Every item of ``job`` in row order (iterate with ``.iterator()`` for big jobs)."""
    return BulkItem.objects.filter(job=job).order_by("row")


def bulk_job_problems(*, job: BulkJob, limit: int = 100) -> list[BulkItem]:
    """The first failed and invalid items, with their reasons, for the job page."""
    return list(
        BulkItem.objects.filter(job=job, status__in=[BulkItem.Status.FAILED, BulkItem.Status.INVALID])
        .order_by("row")
        .only("row", "input", "status", "error_code", "error_message", "attempts")[:limit]
    )


@dataclass(frozen=True, slots=True)
class JobProgress:
    processed: int
    total: int
    percent: int
    remaining: int
    items_per_minute: float | None
    eta_seconds: float | None


def bulk_job_progress(*, job: BulkJob, now: datetime | None = None) -> JobProgress:
    """Where the job is, and the time left at the current run's pace so far."""
    now = now or timezone.now()
    processed = job.processed
    remaining = max(0, job.total - processed)
    percent = 100 if job.total == 0 else min(100, int(processed * 100 / job.total))
    if job.is_final:
        return JobProgress(processed, job.total, 100 if remaining == 0 else percent, remaining, None, None)
    rate = eta = None
    run_done = job.run_total - remaining
    if job.run_started_at is not None and run_done > 0:
        elapsed = max(0.001, (now - job.run_started_at).total_seconds())
        per_second = run_done / elapsed
        rate = per_second * 60
        eta = remaining / per_second
    return JobProgress(processed, job.total, percent, remaining, rate, eta)


def bulk_job_recount(*, job: BulkJob) -> dict[str, int]:
    """The job's counters recomputed from its items (for checks: they must equal the job's own)."""
    counts = dict(
        BulkItem.objects.filter(job=job)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    spent = BulkItem.objects.filter(job=job).aggregate(spent=Sum("credits"))["spent"] or 0
    return {
        "total": sum(counts.values()),
        "succeeded": counts.get(BulkItem.Status.SUCCEEDED, 0),
        "failed": counts.get(BulkItem.Status.FAILED, 0) + counts.get(BulkItem.Status.INVALID, 0),
        "invalid": counts.get(BulkItem.Status.INVALID, 0),
        "cancelled": counts.get(BulkItem.Status.CANCELLED, 0),
        "open": counts.get(BulkItem.Status.PENDING, 0) + counts.get(BulkItem.Status.CLAIMED, 0),
        "credits_spent": int(spent),
    }
