"""``{% product_panels asin marketplace %}``: the panels higher apps register (products/panels.py)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from products.panels import product_panels_render

register = template.Library()


@register.simple_tag(takes_context=True)
def product_panels(context: Any, asin: str, marketplace: str) -> SafeString:
    request = context.get("request")
    if request is None or not asin or not getattr(request, "user", None) or not request.user.is_authenticated:
        return SafeString("")
    return format_html_join(
        "", "{}", ((panel,) for panel in product_panels_render(request, asin, marketplace))
    )
