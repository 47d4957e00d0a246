"""Reads of bulk jobs: a user's jobs, their items, progress and the time left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import BooleanField, Count, ExpressionWrapper, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from core.errors import DomainError, GoneError, NotFoundError
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


# An item is being retried when an attempt of it went wrong and it is open again: a retry
# (services._item_after: pending, attempts used, the error kept, ``available_at`` its backoff), a
# deferral (pending, the error kept, no attempt used), a claim released after its worker was
# lost (pending, attempts used), or one of those claimed again for its next attempt.
RETRYING = (
    Q(status=BulkItem.Status.PENDING, attempts__gt=0)
    | Q(status=BulkItem.Status.CLAIMED, attempts__gt=1)
    | (Q(status__in=BulkItem.OPEN) & ~Q(error_code=""))
)

# The page's filters of a job's items: name -> the items it shows ("all": every item).
ITEM_FILTERS: dict[str, Q] = {
    "all": Q(),
    "succeeded": Q(status=BulkItem.Status.SUCCEEDED),
    "failed": Q(status=BulkItem.Status.FAILED),
    "invalid": Q(status=BulkItem.Status.INVALID),
    "pending": Q(status__in=BulkItem.OPEN) & ~RETRYING,
    "retrying": RETRYING,
    "cancelled": Q(status=BulkItem.Status.CANCELLED),
}


def bulk_job_items_filtered(*, job: BulkJob, status: str = "all") -> QuerySet[BulkItem]:
    """``job``'s items in row order that ``status`` (a name of ``ITEM_FILTERS``) selects, each
    with ``is_retrying`` (``RETRYING``); an unknown name is a 400 (``invalid_filter``) that
    lists the valid ones."""
    condition = ITEM_FILTERS.get(status)
    if condition is None:
        raise DomainError(
            f"Unknown item filter {status!r}: use one of {', '.join(ITEM_FILTERS)}.",
            code="invalid_filter",
            extra={"status": status, "valid": list(ITEM_FILTERS)},
        )
    return (
        BulkItem.objects.filter(condition, job=job)
        .order_by("row")
        .only(
            "id",
            "job_id",
            "row",
            "input",
            "value",
            "status",
            "attempts",
            "available_at",
            "error_code",
            "error_message",
            "credits",
            "result",
        )
        .annotate(is_retrying=ExpressionWrapper(RETRYING, output_field=BooleanField()))
    )


def bulk_job_item_counts(*, job: BulkJob) -> dict[str, int]:
    """How many items each filter of ``ITEM_FILTERS`` shows: the final ones from the job's
    counters (kept equal to its items), the open ones counted (only while the job is active)."""
    open_counts = {"pending": 0, "retrying": 0}
    if not job.is_final:
        open_counts = BulkItem.objects.filter(job=job, status__in=BulkItem.OPEN).aggregate(
            pending=Count("pk", filter=~RETRYING), retrying=Count("pk", filter=RETRYING)
        )
    return {
        "all": job.total,
        "succeeded": job.succeeded,
        "failed": job.failed - job.invalid,
        "invalid": job.invalid,
        "pending": open_counts["pending"],
        "retrying": open_counts["retrying"],
        "cancelled": job.cancelled,
    }


@dataclass(frozen=True, slots=True)
class RetryState:
    """The job's items being retried now: how many, the first one's last error (what went wrong),
    and when the next and the last of those waiting for their backoff are due again."""

    count: int
    reason: str
    next_at: datetime | None
    last_at: datetime | None


def bulk_job_retries(*, job: BulkJob, now: datetime | None = None) -> RetryState:
    """The retries of an active job (none once it is final)."""
    if job.is_final:
        return RetryState(0, "", None, None)
    now = now or timezone.now()
    waiting = Q(status=BulkItem.Status.PENDING, available_at__gt=now)
    retrying = BulkItem.objects.filter(RETRYING, job=job)
    facts = retrying.aggregate(
        count=Count("pk"),
        next_at=Min("available_at", filter=waiting),
        last_at=Max("available_at", filter=waiting),
    )
    reason = ""
    if facts["count"]:
        reason = (
            retrying.exclude(error_message="").order_by("row").values_list("error_message", flat=True).first()
            or ""
        )
    return RetryState(facts["count"], reason, facts["next_at"], facts["last_at"])


@dataclass(frozen=True, slots=True)
class JobProgress:
    processed: int
    total: int
    percent: int
    remaining: int
    items_per_minute: float | None
    # None: not known yet ("estimating"), or the job is final.
    eta_seconds: float | None
    retrying: int = 0
    retry_reason: str = ""
    # Seconds until the next retry waiting for its backoff is due (None: none is waiting).
    next_retry_seconds: float | None = None


def bulk_job_progress(*, job: BulkJob, now: datetime | None = None) -> JobProgress:
    """Where the job is, and the time left: at the current run's pace so far, but never less
    than the wait for the last retry scheduled (an item waiting for its backoff cannot finish
    before it is due, however fast the others went). None while there is no pace yet."""
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
    retries = bulk_job_retries(job=job, now=now)
    next_retry = None
    if retries.next_at is not None and retries.last_at is not None:
        next_retry = (retries.next_at - now).total_seconds()
        if eta is not None:
            eta = max(eta, (retries.last_at - now).total_seconds())
    return JobProgress(
        processed,
        job.total,
        percent,
        remaining,
        rate,
        eta,
        retrying=retries.count,
        retry_reason=retries.reason,
        next_retry_seconds=next_retry,
    )


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
