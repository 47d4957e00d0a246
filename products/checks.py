"""System checks of the products settings: a wrong provider setup fails at start, not at the first lookup."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from products import conf


@register(Tags.compatibility)
def check_providers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from products.providers import PROVIDERS

    messages: list[CheckMessage] = []
    names = conf.product_providers()
    if not names:
        messages.append(
            Error(
                "PRODUCT_PROVIDERS is empty.",
                hint="List at least one provider, e.g. sandbox.",
                id="products.E001",
            )
        )
    unknown = [name for name in names if name not in PROVIDERS]
    if unknown:
        messages.append(
            Error(
                f"PRODUCT_PROVIDERS names unknown providers: {', '.join(unknown)}.",
                hint=f"Known providers: {', '.join(sorted(PROVIDERS))}.",
                id="products.E002",
            )
        )
    try:
        conf.rate_limits()
    except ImproperlyConfigured as exc:
        messages.append(Error(str(exc), id="products.E003"))
    if "keepa" in names and not conf.keepa_settings().api_key:
        messages.append(
            Warning(
                "PRODUCT_PROVIDERS lists keepa but KEEPA_API_KEY is empty: it will always be skipped.",
                id="products.W001",
            )
        )
    if "spapi" in names and not conf.spapi_settings().configured:
        messages.append(
            Warning(
                "PRODUCT_PROVIDERS lists spapi but SPAPI_CLIENT_ID, SPAPI_CLIENT_SECRET or "
                "SPAPI_REFRESH_TOKEN is empty: it will always be skipped.",
                id="products.W002",
            )
        )
    return messages
