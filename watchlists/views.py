"""Watchlist pages: lists, items and thresholds, history charts, CSV import, notifications."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.types import AuthedHttpRequest
from core.api_errors import http_status
from core.errors import DomainError
from jobs.bulk.uploads import check_upload_size
from products.marketplaces import marketplace_get
from watchlists import selectors, services
from watchlists.forms import ImportForm, ThresholdsForm, WatchItemForm, WatchlistForm
from watchlists.models import Interval, WatchItem, Watchlist


def _watchlist(request: AuthedHttpRequest, watchlist_id: int) -> Watchlist:
    try:
        return selectors.watchlist_get(user=request.user, watchlist_id=watchlist_id)
    except DomainError:
        raise Http404("No such watchlist.") from None


def _item(request: AuthedHttpRequest, watchlist_id: int, item_id: int) -> tuple[Watchlist, WatchItem]:
    watchlist = _watchlist(request, watchlist_id)
    try:
        return watchlist, selectors.watch_item_get(watchlist=watchlist, item_id=item_id)
    except DomainError:
        raise Http404("No such item.") from None


def _form_error(form: Any, exc: DomainError) -> None:
    field = exc.extra.get("field")
    form.add_error(field if field in form.fields else None, exc.message)


def _cost(interval: str | None, items: int) -> selectors.CostPreview:
    return selectors.watchlist_cost(
        interval=interval if interval in Interval.values else Interval.DAILY, items=items
    )


def _count(raw: str | None) -> int:
    try:
        return max(0, min(int(raw or 0), 1_000_000))
    except ValueError:
        return 0


@login_required
@require_http_methods(["GET", "POST"])
def watchlists(request: AuthedHttpRequest) -> HttpResponse:
    form = WatchlistForm(request.POST or None)
    status = 200
    if request.method == "POST" and "preview" not in request.POST:
        if form.is_valid():
            try:
                watchlist = services.watchlist_create(user=request.user, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Watchlist “{watchlist.name}” created: add products to it below.")
                return redirect("watchlist-page", watchlist.pk)
        status = 400
    planned = _count(request.POST.get("items"))
    context = {
        "form": form,
        "watchlists": selectors.watchlist_list(user=request.user),
        "cost": _cost(request.POST.get("interval") or Interval.DAILY, planned),
        "item_count": planned,
    }
    return render(request, "watchlists/list.html", context, status=status)


@login_required
@require_GET
def watchlist_cost(request: AuthedHttpRequest) -> HttpResponse:
    """The cost preview alone (htmx swaps it in when the interval or the item count changes)."""
    cost = _cost(request.GET.get("interval"), _count(request.GET.get("items")))
    return render(request, "watchlists/_cost.html", {"cost": cost})


def _detail_context(
    request: AuthedHttpRequest,
    watchlist: Watchlist,
    *,
    item_form: WatchItemForm | None = None,
    import_form: ImportForm | None = None,
    report: services.ImportReport | None = None,
    import_error: DomainError | None = None,
) -> dict[str, Any]:
    items = list(selectors.watch_item_list(watchlist=watchlist))
    return {
        "watchlist": watchlist,
        "items": items,
        "cost": _cost(watchlist.interval, len(items)),
        "cost_with_one_more": _cost(watchlist.interval, len(items) + 1),
        "item_form": item_form or WatchItemForm(),
        "import_form": import_form or ImportForm(),
        "report": report,
        "import_error": import_error,
        "max_items": settings.WATCHLIST_MAX_ITEMS,
        "max_import_bytes": settings.WATCHLIST_IMPORT_MAX_BYTES,
    }


@login_required
@require_GET
def watchlist_detail(request: AuthedHttpRequest, watchlist_id: int) -> HttpResponse:
    return render(
        request, "watchlists/detail.html", _detail_context(request, _watchlist(request, watchlist_id))
    )


@login_required
@require_http_methods(["GET", "POST"])
def watchlist_edit(request: AuthedHttpRequest, watchlist_id: int) -> HttpResponse:
    watchlist = _watchlist(request, watchlist_id)
    initial = {"name": watchlist.name, "interval": watchlist.interval}
    form = WatchlistForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and "preview" not in request.POST:
        if form.is_valid():
            try:
                services.watchlist_update(watchlist=watchlist, **form.cleaned_data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Watchlist saved.")
                return redirect("watchlist-page", watchlist.pk)
        status = 400
    interval = request.POST.get("interval") or watchlist.interval
    item_count = selectors.watch_item_count(watchlist=watchlist)
    context = {
        "watchlist": watchlist,
        "form": form,
        "item_count": item_count,
        "cost": _cost(interval, item_count),
    }
    return render(request, "watchlists/edit.html", context, status=status)


@login_required
@require_POST
def watchlist_delete(request: AuthedHttpRequest, watchlist_id: int) -> HttpResponse:
    watchlist = _watchlist(request, watchlist_id)
    services.watchlist_delete(watchlist=watchlist)
    messages.success(request, f"Watchlist “{watchlist.name}” deleted.")
    return redirect("watchlists-page")


def _thresholds(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {name: cleaned[name] for name in services.THRESHOLD_FIELDS if name in cleaned}


@login_required
@require_POST
def watch_item_add(request: AuthedHttpRequest, watchlist_id: int) -> HttpResponse:
    watchlist = _watchlist(request, watchlist_id)
    form = WatchItemForm(request.POST)
    if form.is_valid():
        try:
            item = services.watch_item_add(
                watchlist=watchlist,
                asin=form.cleaned_data["asin"],
                marketplace=form.cleaned_data["marketplace"],
                thresholds=_thresholds(form.cleaned_data),
            )
        except DomainError as exc:
            if exc.code in ("invalid_asin", "item_exists"):
                form.add_error("asin", exc.message)
            else:
                _form_error(form, exc)
        else:
            messages.success(
                request,
                f"{item.asin} ({item.marketplace}) added; its first values come with the next refresh.",
            )
            return redirect("watchlist-page", watchlist.pk)
    return render(
        request, "watchlists/detail.html", _detail_context(request, watchlist, item_form=form), status=400
    )


@login_required
@require_POST
def watchlist_import(request: AuthedHttpRequest, watchlist_id: int) -> HttpResponse:
    watchlist = _watchlist(request, watchlist_id)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(
            request,
            "watchlists/detail.html",
            _detail_context(request, watchlist, import_form=form),
            status=400,
        )
    upload = form.cleaned_data["file"]
    try:
        check_upload_size(upload.size or 0, max_bytes=settings.WATCHLIST_IMPORT_MAX_BYTES)
        report = services.watchlist_import_csv(watchlist=watchlist, data=upload.read())
    except DomainError as exc:
        context = _detail_context(request, watchlist, import_form=form, import_error=exc)
        return render(request, "watchlists/detail.html", context, status=http_status(exc))
    watchlist = _watchlist(request, watchlist_id)
    status = 200 if not report.errors else 400 if not (report.added or report.updated) else 200
    return render(
        request, "watchlists/detail.html", _detail_context(request, watchlist, report=report), status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def watch_item(request: AuthedHttpRequest, watchlist_id: int, item_id: int) -> HttpResponse:
    watchlist, item = _item(request, watchlist_id, item_id)
    initial = {name: getattr(item, name) for name in services.THRESHOLD_FIELDS}
    currency = marketplace_get(item.marketplace).currency
    form = ThresholdsForm(request.POST or None, initial=initial, currency=currency)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.watch_item_update(item=item, thresholds=_thresholds(form.cleaned_data))
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Thresholds saved.")
                return redirect("watch-item-page", watchlist.pk, item.pk)
        status = 400
    context = {
        "watchlist": watchlist,
        "item": item,
        "form": form,
        "history": selectors.item_history(item=item),
        "snapshots": selectors.item_snapshots(item=item, limit=50),
        "alerts": item.alerts.order_by("-created_at")[:20],
    }
    return render(request, "watchlists/item.html", context, status=status)


@login_required
@require_POST
def watch_item_delete(request: AuthedHttpRequest, watchlist_id: int, item_id: int) -> HttpResponse:
    watchlist, item = _item(request, watchlist_id, item_id)
    services.watch_item_delete(item=item)
    messages.success(request, f"{item.asin} ({item.marketplace}) removed.")
    return redirect("watchlist-page", watchlist.pk)


@login_required
@require_GET
def notifications(request: AuthedHttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    context = {
        "alerts": selectors.alert_list(user=request.user, unread=unread_only)[:200],
        "unread_count": selectors.alert_unread_count(user=request.user),
        "unread_only": unread_only,
    }
    return render(request, "watchlists/notifications.html", context)


@login_required
@require_POST
def notifications_read(request: AuthedHttpRequest) -> HttpResponse:
    """Mark one alert (``alert``) or, without it, every alert read."""
    raw = request.POST.get("alert")
    ids = None
    if raw:
        try:
            ids = [selectors.alert_get(user=request.user, alert_id=int(raw)).pk]
        except (ValueError, DomainError):
            raise Http404("No such alert.") from None
    marked = services.alerts_mark_read(user=request.user, alert_ids=ids)
    if ids is None:
        messages.success(request, f"{marked} alert{'s' if marked != 1 else ''} marked read.")
    return redirect("watchlist-notifications")
