"""Resale pages: the saved defaults, and the profit panel other apps' pages load (htmx) or link to.

The panel is served by resale so that the lower apps (products, conversion, watchlists) name a
resale URL in their templates (``hx-get``) instead of importing resale."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.types import AuthedHttpRequest
from core.api_errors import http_status
from core.errors import DomainError
from products.marketplaces import MARKETPLACES, marketplace_get
from products.validation import normalize_asin
from resale import services
from resale.forms import DefaultsForm, ProfitForm
from resale.profit import VAT_RATES
from resale.selectors import resale_defaults_get
from resale.services import ProfitAnswer


@login_required
@require_http_methods(["GET", "POST"])
def defaults_page(request: AuthedHttpRequest) -> HttpResponse:
    costs = resale_defaults_get(user=request.user)
    if request.method == "POST":
        form = DefaultsForm(request.POST)
        if form.is_valid():
            try:
                services.resale_defaults_update(user=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Resale defaults saved.")
                return redirect("resale-defaults-page")
    else:
        form = DefaultsForm(
            initial={
                "inbound_per_unit": costs.inbound_per_unit,
                "inbound_per_kg": costs.inbound_per_kg,
                "prep_per_unit": costs.prep_per_unit,
                "vat_registered": costs.vat_registered,
                "target_roi_percent": costs.target_roi_percent,
            }
        )
    vat_rates = [(code, MARKETPLACES[code].name, rate) for code, rate in VAT_RATES.items()]
    return render(request, "resale/defaults.html", {"form": form, "vat_rates": vat_rates})


def _panel_context(request: AuthedHttpRequest, data: Any) -> dict[str, Any]:
    """The panel's form (asin and marketplace from ``data``) and, on POST, the calculation."""
    try:
        asin = normalize_asin(data.get("asin", ""))
        market = marketplace_get(data.get("marketplace", ""))
    except DomainError as exc:
        return {"error": exc, "status": http_status(exc)}
    context: dict[str, Any] = {
        "asin": asin,
        "marketplace": market,
        "costs": resale_defaults_get(user=request.user),
    }
    if request.method != "POST":
        context["form"] = ProfitForm(initial={"asin": asin, "marketplace": market.code, "quantity": 1})
        return context
    form = ProfitForm(request.POST)
    context["form"] = form
    if form.is_valid():
        try:
            answer: ProfitAnswer = services.product_profit(
                user=request.user,
                asin=asin,
                marketplace=market.code,
                cost=form.cleaned_data["cost"],
                quantity=form.cleaned_data["quantity"],
            )
        except DomainError as exc:
            context["error"] = exc
        else:
            context["answer"] = answer
            context["result"] = answer.result
    return context


@login_required
@require_http_methods(["GET", "POST"])
def profit_panel(request: AuthedHttpRequest) -> HttpResponse:
    """The panel alone (an htmx fragment: ``hx-get`` it into a page, it ``hx-post``s to itself)."""
    data = request.POST if request.method == "POST" else request.GET
    context = _panel_context(request, data)
    return render(request, "resale/_panel.html", context, status=context.pop("status", 200))


@login_required
@require_http_methods(["GET", "POST"])
def profit_page(request: AuthedHttpRequest) -> HttpResponse:
    """The panel as a page of its own (without JavaScript the panel's form posts here)."""
    return _profit_page(request)


def _profit_page(request: AuthedHttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    if not data.get("asin"):
        return render(request, "resale/profit.html", {"pick": True})
    context = _panel_context(request, data)
    return render(request, "resale/profit.html", context, status=context.pop("status", 200))
