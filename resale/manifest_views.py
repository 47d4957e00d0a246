"""The manifest pages: upload (a draft showing its cost), run, and the manifest's analysis, whose
progress (the bulk job page's own htmx fragment) and totals stay live while it runs."""

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
from credits.selectors import balance_get
from jobs.bulk.views import bulk_progress_context
from resale import manifest_exports, manifests
from resale import manifest_selectors as selectors
from resale.forms import ManifestUploadForm
from resale.manifest_conf import manifest_settings
from resale.models import Manifest, ManifestLine

LINES_SHOWN = 500
CHART_LINES = 50
SORT_LABELS = {
    "line": "Line",
    "-profit": "Profit, highest first",
    "profit": "Profit, lowest first",
    "-roi": "ROI, highest first",
    "-resale_value": "Resale value, highest first",
    "-quantity": "Quantity, most first",
    "-monthly_sold": "Sold last month, most first",
    "-rank_drops_30": "Rank drops 30 d, most first",
    "-rank_drops_90": "Rank drops 90 d, most first",
    "status": "Status",
    "title": "Title",
}


def _manifest(request: AuthedHttpRequest, manifest_id: int) -> Manifest:
    try:
        return selectors.manifest_get(user=request.user, manifest_id=manifest_id)
    except DomainError:
        raise Http404("No such manifest.") from None


@login_required
@require_http_methods(["GET", "POST"])
def manifests_page(request: AuthedHttpRequest) -> HttpResponse:
    form = ManifestUploadForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"form": form, "limits": manifest_settings()}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                manifest = manifests.manifest_create(
                    user=request.user,
                    file=upload,
                    size=upload.size,
                    filename=upload.name or "",
                    lot_price=form.cleaned_data["lot_price"],
                    marketplace=form.cleaned_data["marketplace"],
                )
            except DomainError as exc:
                context["error"] = exc
                status = http_status(exc)
            else:
                return redirect("manifest-page", manifest.pk)
        else:
            status = 400
    context["manifests"] = selectors.manifest_list(user=request.user)[:50]
    return render(request, "resale/manifests.html", context, status=status)


def _manifest_context(request: AuthedHttpRequest, manifest: Manifest) -> dict[str, Any]:
    manifests.manifest_refresh(manifest=manifest)
    sort = selectors.clean_sort(request.GET.get("sort"))
    totals = selectors.manifest_totals(manifest=manifest)
    lines = list(selectors.manifest_lines(manifest=manifest, sort=sort)[:LINES_SHOWN])
    context: dict[str, Any] = {
        "manifest": manifest,
        "totals": totals,
        "lines": lines,
        "lines_shown": LINES_SHOWN,
        "sort": sort,
        "sort_labels": SORT_LABELS,
        "chart": _chart(manifest),
        "rejected": ManifestLine.objects.filter(
            manifest=manifest, status=ManifestLine.Status.REJECTED
        ).order_by("line")[:50],
        "running": manifest.job is not None and not manifest.job.is_final,
    }
    if manifest.job is None:
        context["balance"] = balance_get(user=request.user)
    return context


def _chart(manifest: Manifest) -> dict[str, Any]:
    """Profit by line for the chart: the most and the least profitable lines, at most CHART_LINES."""
    priced = ManifestLine.objects.filter(manifest=manifest, status=ManifestLine.Status.PRICED)
    half = CHART_LINES // 2
    top = list(priced.order_by("-profit", "line").values_list("line", "profit")[:half])
    bottom = list(priced.order_by("profit", "line").values_list("line", "profit")[:half])
    points = sorted(dict(top + bottom).items(), key=lambda p: -(p[1] or 0))
    return {
        "currency": manifest.currency,
        "labels": [f"Line {line}" for line, _ in points],
        "profit": [str(profit) for _, profit in points],
    }


@login_required
@require_GET
def manifest_page(request: AuthedHttpRequest, manifest_id: int) -> HttpResponse:
    manifest = _manifest(request, manifest_id)
    context = _manifest_context(request, manifest)
    if manifest.job is not None:
        context.update(bulk_progress_context(manifest.job))
    return render(request, "resale/manifest.html", context)


@login_required
@require_GET
def manifest_summary(request: AuthedHttpRequest, manifest_id: int) -> HttpResponse:
    """The manifest's totals and table alone: what htmx polls while it runs."""
    manifest = _manifest(request, manifest_id)
    context = _manifest_context(request, manifest)
    response = render(request, "resale/_summary.html", context)
    if not context["running"]:
        # Done: the whole page again, with its chart (Chart.js is loaded only for a finished manifest).
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def manifest_start(request: AuthedHttpRequest, manifest_id: int) -> HttpResponse:
    manifest = _manifest(request, manifest_id)
    try:
        job = manifests.manifest_start(manifest=manifest)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Manifest running: {job.credits_held:,} credits held for {job.run_total:,} lines."
        )
    return redirect("manifest-page", manifest_id)


@login_required
@require_POST
def manifest_delete(request: AuthedHttpRequest, manifest_id: int) -> HttpResponse:
    manifest = _manifest(request, manifest_id)
    try:
        manifests.manifest_delete(manifest=manifest)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("manifest-page", manifest_id)
    messages.success(request, f"Manifest #{manifest_id} deleted.")
    return redirect("manifests-page")


@login_required
@require_GET
def manifest_export(request: AuthedHttpRequest, manifest_id: int, fmt: str) -> HttpResponseBase:
    if fmt not in manifest_exports.FORMATS:
        raise Http404("Manifests export as .csv or .xlsx.")
    manifest = _manifest(request, manifest_id)
    manifests.manifest_refresh(manifest=manifest)
    return manifest_exports.manifest_export_response(
        manifest, fmt=fmt, sort=selectors.clean_sort(request.GET.get("sort"))
    )
