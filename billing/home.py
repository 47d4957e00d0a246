"""What billing adds to the landing page: the credit packs on sale."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.landing import register_landing_context
from billing import selectors


def landing_packs(request: HttpRequest) -> dict[str, Any]:
    return {"credit_packs": selectors.pack_offers()}


def register() -> None:
    register_landing_context(landing_packs)
