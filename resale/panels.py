"""The profit panel resale adds under a product on other apps' pages (products/panels.py)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from core.errors import DomainError
from products.marketplaces import marketplace_get
from resale.forms import ProfitForm
from resale.selectors import resale_defaults_get


def profit_panel_render(request: HttpRequest, asin: str, marketplace: str) -> SafeString:
    """The panel's form (nothing fetched, nothing charged: calculating is the metered step)."""
    try:
        market = marketplace_get(marketplace)
    except DomainError:
        return SafeString("")
    context = {
        "asin": asin,
        "marketplace": market,
        "costs": resale_defaults_get(user=request.user),  # type: ignore[arg-type]  # signed in: the tag checks
        "form": ProfitForm(initial={"asin": asin, "marketplace": market.code, "quantity": 1}),
    }
    return render_to_string("resale/_panel.html", context, request=request)  # a SafeString, autoescaped
