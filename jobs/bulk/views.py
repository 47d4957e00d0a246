"""The bulk jobs pages: upload and list, and a job page whose progress htmx keeps live,
with a table of the job's items (filtered by state, paged) that works with and without htmx."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.types import AuthedHttpRequest
from core.api_errors import http_status
from core.errors import DomainError, NotFoundError
from jobs.bulk import exports, selectors, services
from jobs.bulk.conf import bulk_settings
from jobs.bulk.forms import BulkUploadForm
from jobs.bulk.kinds import BulkKind, bulk_kind_get, bulk_result_summary
from jobs.models import BulkItem, BulkJob

ITEMS_PER_PAGE = 50
# The filters of the items table, in the page's order, with their names on the page.
ITEM_FILTER_LABELS = {
    "all": "All",
    "succeeded": "Delivered",
    "failed": "Failed",
    "invalid": "Invalid",
    "pending": "Waiting",
    "retrying": "Retrying",
    "cancelled": "Cancelled",
}


def _job(request: AuthedHttpRequest, job_id: int) -> BulkJob:
    try:
        return selectors.bulk_job_get(user=request.user, job_id=job_id)
    except DomainError:
        raise Http404("No such bulk job.") from None


def duration(seconds: float | None) -> str:
    """A rough, readable duration: "less than a minute", "about 4 min", "about 2 h 5 min"."""
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min"


def seconds_soon(seconds: float) -> str:
    """A short wait, rounded up: "~40 s", "~3 min" ("now" once it is due)."""
    if seconds <= 0.5:
        return "now"
    if seconds < 90:
        return f"~{math.ceil(seconds)} s"
    return f"~{math.ceil(seconds / 60)} min"


def retry_note(progress: selectors.JobProgress) -> str:
    """What the progress says about items being retried: how many, why, and when next."""
    if not progress.retrying:
        return ""
    if progress.retrying == 1:
        text = "1 item is being retried after an error"
    else:
        text = f"{progress.retrying:,} items are being retried after errors"
    if progress.retry_reason:
        text += f" ({progress.retry_reason.rstrip('.')})"
    if progress.next_retry_seconds is not None:
        text += f"; next attempt in {seconds_soon(progress.next_retry_seconds)}"
    else:
        text += "; the next attempt is due now"
    return text + "."


def _progress_context(job: BulkJob) -> dict[str, Any]:
    progress = selectors.bulk_job_progress(job=job)
    return {
        "job": job,
        "progress": progress,
        "time_left": duration(progress.eta_seconds),
        "retry_note": retry_note(progress),
        "retryable": job.is_final and job.failed > job.invalid and job.results_deleted_at is None,
        "released": job.credits_held - job.credits_spent if job.is_final else None,
    }


def bulk_progress_context(job: BulkJob) -> dict[str, Any]:
    """What ``bulk/_progress.html`` needs: for another app's page showing a job's progress (a
    manifest's), which includes that fragment as it is."""
    return _progress_context(job)


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One line of the items table, in plain words."""

    row: int
    input: str
    status: str
    status_key: str
    detail: str
    credits: int


def item_state(item: BulkItem, *, max_attempts: int) -> tuple[str, str]:
    """The item's state as a filter name and in plain words ("retrying (attempt 2 of 5)")."""
    Status = BulkItem.Status
    if getattr(item, "is_retrying", False):  # annotated by selectors.bulk_job_items_filtered
        attempt = item.attempts if item.status == Status.CLAIMED else item.attempts + 1
        return "retrying", f"retrying (attempt {min(attempt, max_attempts)} of {max_attempts})"
    if item.status in BulkItem.OPEN:
        return "pending", "processing" if item.status == Status.CLAIMED else "waiting"
    words = {
        Status.SUCCEEDED: "delivered",
        Status.FAILED: "failed",
        Status.INVALID: "invalid input",
        Status.CANCELLED: "cancelled",
    }
    return item.status, words.get(Status(item.status), item.status)


def item_row(
    item: BulkItem, *, kind: BulkKind, max_attempts: int, now: datetime, removed: bool = False
) -> ItemRow:
    key, words = item_state(item, max_attempts=max_attempts)
    if key == "succeeded" and item.result is None:
        detail = "Delivered; its result was removed (retention)." if removed else "Delivered."
    elif key == "succeeded":
        detail = bulk_result_summary(kind, item.result) or "Delivered."
    elif key in ("failed", "invalid"):
        detail = item.error_message or "Not delivered (no reason was recorded)."
    elif key == "retrying":
        detail = (
            f"Last try: {item.error_message.rstrip('.')}"
            if item.error_message
            else "The worker processing it stopped; it is tried again"
        )
        if item.status == BulkItem.Status.PENDING and item.available_at and item.available_at > now:
            detail += f"; next attempt in {seconds_soon((item.available_at - now).total_seconds())}"
        detail += "."
    elif key == "cancelled":
        detail = "Not processed: the job was cancelled."
    else:
        detail = ""
    return ItemRow(item.row, item.input, words, key, detail, item.credits)


def _items_page(job: BulkJob, query: QueryDict) -> tuple[str, Page[BulkItem]]:
    """The filter and page of the job's items ``query`` asks for (``?status=``, ``?page=``);
    ``DomainError`` (400, or 404 past the last page) saying why when there is no such thing."""
    status = query.get("status") or "all"
    items = selectors.bulk_job_items_filtered(job=job, status=status)
    raw_page = query.get("page") or "1"
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise DomainError(f"The page is a whole number from 1, not {raw_page!r}.", code="invalid_page")
    paginator = Paginator(items, ITEMS_PER_PAGE, allow_empty_first_page=True)
    number = int(raw_page)
    if number > paginator.num_pages:
        pages = paginator.num_pages
        raise NotFoundError(
            f"There is no page {number}: these items fill {pages} page{'' if pages == 1 else 's'}.",
            code="page_not_found",
        )
    return status, paginator.page(number)


def _items_context(job: BulkJob, query: QueryDict) -> tuple[dict[str, Any], int]:
    """The items table's context (the filter, the page of rows, the filters' counts) and the status."""
    counts = selectors.bulk_job_item_counts(job=job)
    filters = [
        {"name": name, "label": label, "count": counts[name]}
        for name, label in ITEM_FILTER_LABELS.items()
        if name == "all" or counts[name] or name == query.get("status")
    ]
    context: dict[str, Any] = {"job": job, "filters": filters, "status_filter": query.get("status") or "all"}
    try:
        status, page = _items_page(job, query)
    except DomainError as error:
        context["items_error"] = error.message
        return context, http_status(error)
    kind = bulk_kind_get(job.kind)
    max_attempts = bulk_settings().max_attempts
    now = timezone.now()
    removed = job.results_deleted_at is not None
    context.update(
        status_filter=status,
        status_label=ITEM_FILTER_LABELS[status],
        page=page,
        input_label=kind.input_label,
        rows=[
            item_row(item, kind=kind, max_attempts=max_attempts, now=now, removed=removed)
            for item in page.object_list
        ],
    )
    return context, 200


@login_required
@require_http_methods(["GET", "POST"])
def bulk_jobs(request: AuthedHttpRequest) -> HttpResponse:
    form = BulkUploadForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"form": form, "limits": bulk_settings()}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.bulk_job_create_from_csv(
                    user=request.user,
                    kind=form.cleaned_data["kind"],
                    file=upload,
                    size=upload.size,
                    filename=upload.name or "",
                    params={"marketplace": form.cleaned_data["marketplace"]},
                )
            except DomainError as exc:
                context["error"] = exc
                status = http_status(exc)
            else:
                messages.success(
                    request,
                    f"Job #{job.pk} queued: {job.total - job.invalid:,} items, "
                    f"{job.credits_held:,} credits held.",
                )
                return redirect("bulk-job-page", job.pk)
        else:
            status = 400
    context["jobs"] = selectors.bulk_job_list(user=request.user)[:50]
    return render(request, "bulk/jobs.html", context, status=status)


@login_required
@require_GET
def bulk_job(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    items, status = _items_context(job, request.GET)
    context = {**items, **_progress_context(job), "kind_label": bulk_kind_get(job.kind).label}
    return render(request, "bulk/job.html", context, status=status)


@login_required
@require_GET
def bulk_job_items(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    """The job page's items table alone (a filter or page of it): what htmx swaps in."""
    items, status = _items_context(_job(request, job_id), request.GET)
    return render(request, "bulk/_items.html", items, status=status)


@login_required
@require_GET
def bulk_job_progress(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    """The job page's progress section alone: what htmx polls."""
    return render(request, "bulk/_progress.html", _progress_context(_job(request, job_id)))


@login_required
@require_POST
def bulk_job_cancel(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    try:
        job = services.bulk_job_cancel(job=_job(request, job_id))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Job #{job.pk} cancelled; {job.cancelled:,} items were not processed.")
    return redirect("bulk-job-page", job_id)


@login_required
@require_POST
def bulk_job_retry(request: AuthedHttpRequest, job_id: int) -> HttpResponse:
    try:
        job = services.bulk_job_retry(job=_job(request, job_id))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Job #{job.pk}: {job.run_total:,} failed items queued again.")
    return redirect("bulk-job-page", job_id)


@login_required
@require_GET
def bulk_job_results(request: AuthedHttpRequest, job_id: int, fmt: str) -> HttpResponseBase:
    if fmt not in exports.FORMATS:
        raise Http404("Results come as .csv or .json.")
    job = _job(request, job_id)
    try:
        return exports.results_response(job, fmt=fmt)
    except DomainError as error:
        return render(request, "bulk/gone.html", {"error": error, "job": job}, status=http_status(error))
