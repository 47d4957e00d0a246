import json
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.types import AuthedHttpRequest
from core.api_errors import http_status
from core.errors import DomainError
from products import selectors, services
from products.forms import ProductLookupForm
from products.marketplaces import marketplace_get
from products.models import LookupLog
from products.providers import PROVIDERS
from products.validation import looks_like_barcode


def _chart_data(record: dict[str, Any], snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """Price and rank series for the chart: the provider's history, else our own snapshots."""
    price = next((h for h in record.get("history") or [] if h["kind"] == "price"), None)
    rank = next((h for h in record.get("history") or [] if h["kind"] == "rank"), None)
    return {
        "price": price["points"] if price else [[s["at"], s["price"]] for s in snapshots if s["price"]],
        "rank": rank["points"] if rank else [[s["at"], s["rank"]] for s in snapshots if s["rank"]],
        "currency": (price or {}).get("currency") or (record.get("price") or {}).get("currency"),
    }


def _parsed_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _sales_velocity(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record's sales velocity for the page, with its source's name; None for a record
    stored before it had one (record_version < 3)."""
    velocity = record.get("sales_velocity")
    if not velocity:
        return None
    source = str(velocity.get("source") or record.get("provider") or "")
    provider = PROVIDERS.get(source)
    return {
        **velocity,
        "source_label": provider.label if provider is not None else source,
        "monthly_sold_as_of": _parsed_time(velocity.get("monthly_sold_as_of")),
        "rank_drops_as_of": _parsed_time(velocity.get("rank_drops_as_of")),
        "has_rank_drops": any(velocity.get(f"rank_drops_{days}") is not None for days in (30, 90)),
    }


@login_required
@require_http_methods(["GET", "POST"])
def lookup(request: AuthedHttpRequest) -> HttpResponse:
    form = ProductLookupForm(request.POST or None)
    context: dict[str, Any] = {"form": form}
    status = 200
    if request.method == "POST" and form.is_valid() and looks_like_barcode(form.cleaned_data["asin"]):
        try:
            found = services.product_code_lookup(
                user=request.user,
                code=form.cleaned_data["asin"],
                marketplace=form.cleaned_data["marketplace"],
            )
        except DomainError as exc:
            context["error"] = exc
            status = http_status(exc)
        else:
            market = marketplace_get(found.marketplace)
            context.update(
                code_result=found,
                code_matches=[{**m, "amazon_url": market.product_url(m["asin"])} for m in found.matches],
            )
    elif request.method == "POST" and form.is_valid():
        try:
            result = services.product_lookup(
                user=request.user,
                asin=form.cleaned_data["asin"],
                marketplace=form.cleaned_data["marketplace"],
                channel=LookupLog.Channel.PAGE,
            )
        except DomainError as exc:
            context["error"] = exc
            status = http_status(exc)
        else:
            record = json.loads(result.record)
            snapshots = selectors.product_history(asin=result.asin, marketplace=result.marketplace)
            context.update(
                result=result,
                product=record,
                amazon_url=marketplace_get(result.marketplace).product_url(result.asin),
                chart=_chart_data(record, snapshots),
                velocity=_sales_velocity(record),
            )
    context["recent"] = selectors.recent_lookups(user=request.user, limit=10)
    return render(request, "products/lookup.html", context, status=status)
