"""The convert page (made for barcode scanners) and the page of a seller's own sources."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, cast
from urllib.parse import urlencode

from csp.decorators import csp_update
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.types import AuthedHttpRequest
from conversion import conf, selectors
from conversion.bulk import BULK_KIND
from conversion.convert import ConversionResult, conversion_body, fnsku_convert
from conversion.feedback import conversion_feedback
from conversion.forms import (
    FeedbackForm,
    HistoryFilterForm,
    InventoryImportForm,
    LabelPhotoForm,
    ScanForm,
    SpApiConnectionForm,
    SyncForm,
)
from conversion.labels import fnsku_convert_label
from conversion.models import Conversion, ConversionFeedback
from conversion.sources import (
    fba_inventory_sync_queue,
    inventory_report_import,
    spapi_connection_delete,
    spapi_connection_set,
)
from core.api_errors import http_status
from core.csv_export import csv_response
from core.errors import DomainError
from credits.models import Operation
from credits.selectors import price_get
from jobs.bulk import services as bulk_services
from jobs.bulk.forms import BulkUploadForm
from products import services as product_services
from products.marketplaces import MARKETPLACES, marketplace_get
from products.providers.fba_inventory import app_configured
from products.validation import looks_like_barcode

P = ParamSpec("P")

# The scanner page's camera reads barcodes with the barcode-detector polyfill where the browser
# has no BarcodeDetector; its reader is WebAssembly, which the browser compiles only under
# 'wasm-unsafe-eval' (no JavaScript eval is allowed by it). The two views that render the page.
_CAMERA_WASM = {"script-src": ["'wasm-unsafe-eval'"]}


def _camera_wasm_allowed(view: Callable[P, HttpResponse]) -> Callable[P, HttpResponse]:
    # csp_update is typed for views taking a plain HttpRequest; these take the signed-in one.
    return cast("Callable[P, HttpResponse]", csp_update(_CAMERA_WASM)(cast("Any", view)))


def _wants_json(request: AuthedHttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _page_context(request: AuthedHttpRequest, form: ScanForm) -> dict[str, Any]:
    return {
        "form": form,
        "price": price_get(operation=Operation.FNSKU_CONVERSION),
        "paste_max": conf.conversion_settings().paste_max_codes,
        "resolved_confidence": conf.conversion_settings().resolved_confidence,
        "bulk_marketplaces": list(MARKETPLACES),
        "label_form": LabelPhotoForm(),
    }


@_camera_wasm_allowed
@login_required
@require_GET
def convert(request: AuthedHttpRequest) -> HttpResponse:
    return render(request, "conversion/convert.html", _page_context(request, ScanForm()))


@_camera_wasm_allowed
@login_required
@require_POST
def scan(request: AuthedHttpRequest) -> HttpResponse:
    """One scan: JSON with the answer and its card (fetch), or the whole page (no script)."""
    form = ScanForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    context: dict[str, Any] = {"resolved_confidence": conf.conversion_settings().resolved_confidence}
    status = 200
    body: dict[str, Any]
    if looks_like_barcode(request.POST.get("fnsku", "")):
        # A manufacturer's barcode (EAN, UPC) rather than an FNSKU: the products carrying it.
        status, body, barcode_context = _scan_barcode(request, data.get("marketplace") or "US")
        context.update(barcode_context)
        return _scan_answer(request, data, context, body, status)
    try:
        result = fnsku_convert(
            user=request.user,
            fnsku=request.POST.get("fnsku", ""),
            marketplace=data.get("marketplace") or "US",
            label_text=data.get("label_text") or "",
            channel=Conversion.Channel.PAGE,
        )
    except DomainError as exc:
        status = http_status(exc)
        context["error"] = exc
        body = {
            "ok": False,
            "fnsku": request.POST.get("fnsku", "").strip().upper()[:20],
            "error": {"code": exc.code, "message": exc.message},
            "credits_remaining": exc.extra.get("credits_remaining"),
        }
    else:
        conversion = _result_card(result)
        context["conversion"] = conversion
        body = {"ok": True, "conversion": conversion}
    return _scan_answer(request, data, context, body, status)


def _result_card(result: ConversionResult) -> dict[str, Any]:
    """A conversion as the result card (conversion/_result.html) shows it."""
    conversion = conversion_body(
        result.conversion, credits_remaining=result.credits_remaining, rescan=result.rescan
    )
    conversion["ago"] = time_ago(result.conversion.created_at)
    conversion["amazon_url"] = (
        marketplace_get(result.conversion.marketplace).product_url(result.conversion.asin)
        if result.conversion.asin
        else None
    )
    return conversion


@login_required
@require_POST
def label_photo(request: AuthedHttpRequest) -> HttpResponse:
    """A photo of a label (the convert page's camera button): read, converted, and the convert
    page shown with the result card and what was read."""
    form = LabelPhotoForm(request.POST, request.FILES)
    marketplace = request.POST.get("marketplace") or "US"
    context: dict[str, Any] = {"resolved_confidence": conf.conversion_settings().resolved_confidence}
    status = 200
    if not form.is_valid():
        status = 400
        context["error"] = DomainError("Choose a photo of the label.", code="image_missing")
    else:
        try:
            reading, result = fnsku_convert_label(
                user=request.user,
                file=form.cleaned_data["image"],
                marketplace=form.cleaned_data["marketplace"],
                channel=Conversion.Channel.PAGE,
            )
        except DomainError as exc:
            status = http_status(exc)
            context["error"] = exc
        else:
            context["conversion"] = _result_card(result)
            context["label_read"] = reading.to_dict()
    page = _page_context(request, ScanForm(initial={"marketplace": marketplace}))
    page["label_form"] = LabelPhotoForm(initial={"marketplace": marketplace})
    return render(request, "conversion/convert.html", {**page, **context}, status=status)


def _scan_answer(
    request: AuthedHttpRequest,
    data: dict[str, Any],
    context: dict[str, Any],
    body: dict[str, Any],
    status: int,
) -> HttpResponse:
    if not _wants_json(request):
        page = _page_context(request, ScanForm(initial={"marketplace": data.get("marketplace") or "US"}))
        return render(request, "conversion/convert.html", {**page, **context}, status=status)
    body["html"] = render_to_string("conversion/_result.html", context, request=request)
    return JsonResponse(body, status=status)


def _scan_barcode(request: AuthedHttpRequest, marketplace: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """A scanned barcode looked up through products' code lookup: status, JSON body, template context."""
    raw = request.POST.get("fnsku", "")
    try:
        found = product_services.product_code_lookup(user=request.user, code=raw, marketplace=marketplace)
    except DomainError as exc:
        body = {
            "ok": False,
            "fnsku": raw.strip()[:20],
            "error": {"code": exc.code, "message": exc.message},
            "credits_remaining": exc.extra.get("credits_remaining"),
        }
        return http_status(exc), body, {"error": exc}
    market = marketplace_get(found.marketplace)
    barcode = {
        "code": found.code,
        "code_type": found.code_type,
        "code_label": found.code_label,
        "marketplace": found.marketplace,
        "provider": found.provider,
        "matches": [
            {
                "asin": m["asin"],
                "title": m["title"],
                "brand": m["brand"],
                "image": m["image"],
                "amazon_url": market.product_url(m["asin"]),
            }
            for m in found.matches
        ],
        "credits_charged": found.credits_charged,
        "credits_remaining": found.credits_remaining,
    }
    return 200, {"ok": True, "barcode": barcode}, {"barcode": barcode}


@login_required
@require_POST
def feedback(request: AuthedHttpRequest, conversion_id: int) -> HttpResponse:
    """A confirmation or correction: JSON for the convert page's script, or back to the history page
    (its forms post here without a script)."""
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        if not _wants_json(request):
            messages.error(request, "Give an ASIN.")
            return redirect("convert-history")
        return JsonResponse(
            {"ok": False, "error": {"code": "invalid", "message": "Give an ASIN."}}, status=400
        )
    try:
        given = conversion_feedback(
            user=request.user, conversion_id=conversion_id, asin=form.cleaned_data["asin"]
        )
    except DomainError as exc:
        if not _wants_json(request):
            if http_status(exc) == 404:  # another user's conversion is not found, never "done"
                raise Http404(exc.message) from exc
            messages.error(request, exc.message)
            return redirect("convert-history")
        return JsonResponse(
            {"ok": False, "error": {"code": exc.code, "message": exc.message}}, status=http_status(exc)
        )
    if not _wants_json(request):
        messages.success(request, f"Thanks: {_verdict_words(given)}.")
        return redirect("convert-history")
    return JsonResponse({"ok": True, "asin": given.asin, "verdict": given.verdict})


def _verdict_words(feedback: ConversionFeedback) -> str:
    if feedback.verdict == ConversionFeedback.Verdict.CONFIRMED:
        return f"you confirmed {feedback.fnsku} is {feedback.asin}"
    return f"you corrected {feedback.fnsku} to {feedback.asin}"


def time_ago(moment: datetime) -> str:
    """How long ago, as a person says it on a busy page: "5 min", "2 h", "3 days"."""
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    if seconds < 60:
        return "less than a minute"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


HISTORY_PAGE_SIZE = 25
# A download of the history holds at most this many conversions (newest first).
HISTORY_EXPORT_MAX = 10_000
HISTORY_COLUMNS = (
    "converted_at",
    "fnsku",
    "marketplace",
    "label_text",
    "asin",
    "title",
    "confidence",
    "status",
    "sample_data",
    "provider",
    "credits_charged",
    "feedback",
    "conversion_id",
)


def _feedback_of(conversion: Conversion) -> ConversionFeedback | None:
    try:
        return conversion.feedback
    except ConversionFeedback.DoesNotExist:
        return None


def _history_csv_rows(conversions: Any) -> list[list[object]]:
    rows: list[list[object]] = [list(HISTORY_COLUMNS)]
    for c in conversions:
        given = _feedback_of(c)
        rows.append(
            [
                c.created_at.isoformat().replace("+00:00", "Z"),
                c.fnsku,
                c.marketplace,
                c.label_text,
                c.asin,
                c.title,
                c.confidence,
                c.status,
                "true" if c.sample_data else "false",
                c.provider,
                c.credits_charged,
                f"{given.verdict} {given.asin}" if given else "",
                c.pk,
            ]
        )
    return rows


@login_required
@require_GET
def history(request: AuthedHttpRequest) -> HttpResponse:
    """The user's past conversions: newest first, paged, searchable, filtered by status, as CSV."""
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        return render(
            request, "conversion/history.html", {"form": form, "page": None, "rows": []}, status=400
        )
    text, status = form.cleaned_data["q"], form.cleaned_data["status"]
    found = selectors.conversion_search(user=request.user, text=text, status=status)
    filters = urlencode({key: value for key, value in (("q", text), ("status", status)) if value})
    if request.GET.get("export") == "csv":
        return csv_response(
            _history_csv_rows(found[:HISTORY_EXPORT_MAX]),
            filename=f"fnsku-conversions-{timezone.localdate().isoformat()}.csv",
        )
    page = Paginator(found, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {"c": c, "ago": time_ago(c.created_at), "feedback": _feedback_of(c), "candidates": c.candidates[1:]}
        for c in page
    ]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "filters": filters,
        "filtered": bool(text or status),
        "resolved_confidence": conf.conversion_settings().resolved_confidence,
    }
    return render(request, "conversion/history.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def sources(request: AuthedHttpRequest) -> HttpResponse:
    """The seller's own sources: inventory report imports and the Seller Central connection."""
    import_form = InventoryImportForm()
    connection_form = SpApiConnectionForm()
    import_result = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "import":
                import_form = InventoryImportForm(request.POST, request.FILES)
                if import_form.is_valid():
                    import_result = inventory_report_import(
                        user=request.user,
                        file=import_form.cleaned_data["file"],
                        marketplace=import_form.cleaned_data["marketplace"],
                    )
            elif action == "connect":
                connection_form = SpApiConnectionForm(request.POST)
                if connection_form.is_valid():
                    spapi_connection_set(user=request.user, **connection_form.cleaned_data)
                    messages.success(
                        request, "Seller Central connected; your FBA inventory syncs in the background."
                    )
                    fba_inventory_sync_queue(user=request.user, marketplace="US")
                    return redirect("convert-sources")
            elif action == "disconnect":
                spapi_connection_delete(user=request.user)
                messages.success(request, "Seller Central disconnected; its inventory mappings were removed.")
                return redirect("convert-sources")
            elif action == "sync":
                sync_form = SyncForm(request.POST)
                if sync_form.is_valid():
                    market = fba_inventory_sync_queue(
                        user=request.user, marketplace=sync_form.cleaned_data["marketplace"]
                    )
                    messages.success(request, f"A sync of your FBA inventory in {market} is queued.")
                    return redirect("convert-sources")
        except DomainError as exc:
            messages.error(request, exc.message)
    spapi_connection = selectors.spapi_connection_get(user=request.user)
    context = {
        "import_form": import_form,
        "import_result": import_result,
        "connection_form": connection_form,
        "sync_form": SyncForm(),
        "connection": spapi_connection,
        "syncs": selectors.fba_sync_list(connection=spapi_connection) if spapi_connection else [],
        "app_configured": app_configured(),
        "counts": selectors.own_mapping_counts(user=request.user),
    }
    return render(request, "conversion/sources.html", context)


@login_required
@require_POST
def bulk(request: AuthedHttpRequest) -> HttpResponse:
    """A CSV of FNSKUs as a bulk job: the same engine, progress page and exports as ASIN jobs."""
    form = BulkUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV file of FNSKUs to convert.")
        return redirect("convert")
    upload = form.cleaned_data["file"]
    try:
        job = bulk_services.bulk_job_create_from_csv(
            user=request.user,
            kind=BULK_KIND,
            file=upload,
            size=upload.size,
            filename=upload.name or "",
            params={"marketplace": form.cleaned_data["marketplace"]},
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("convert")
    messages.success(
        request,
        f"Conversion job #{job.pk} queued: {job.total - job.invalid:,} FNSKUs, "
        f"{job.credits_held:,} credits held.",
    )
    return redirect("bulk-job-page", job.pk)
