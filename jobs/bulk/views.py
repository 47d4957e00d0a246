"""The bulk jobs pages: upload and list, and a job page whose progress htmx keeps live."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.types import AuthedHttpRequest
from core.api_errors import http_status
from core.errors import DomainError
from jobs.bulk import exports, selectors, services
from jobs.bulk.asin_lookup import ASIN_LOOKUP
from jobs.bulk.conf import bulk_settings
from jobs.bulk.forms import BulkUploadForm
from jobs.models import BulkJob


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


def _progress_context(job: BulkJob) -> dict[str, Any]:
    progress = selectors.bulk_job_progress(job=job)
    return {
        "job": job,
        "progress": progress,
        "time_left": duration(progress.eta_seconds),
        "problems": selectors.bulk_job_problems(job=job),
        "retryable": job.is_final and job.failed > job.invalid and job.results_deleted_at is None,
        "released": job.credits_held - job.credits_spent if job.is_final else None,
    }


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
                    kind=ASIN_LOOKUP,
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
    return render(request, "bulk/job.html", _progress_context(_job(request, job_id)))


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
