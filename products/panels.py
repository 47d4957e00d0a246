"""Panels that higher apps add under a product on the pages of products, conversion and watchlists.

A product shown on a page (the lookup result, the scanner's answer, a watchlist item) may carry
more than products knows: resale adds its profit panel. The page's template calls
``{% load product_panels %}{% product_panels asin marketplace %}``; the apps above register what
to render from their ``AppConfig.ready()`` with ``register_product_panel``, so products,
conversion and watchlists import none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

logger = logging.getLogger(__name__)

#: Renders the panel's HTML for the signed-in user of ``request``, ASIN and marketplace code.
ProductPanel = Callable[[HttpRequest, str, str], SafeString]

_PANELS: dict[str, ProductPanel] = {}


def register_product_panel(name: str, render: ProductPanel) -> None:
    """Add (or replace) the panel ``name``; panels show in the order they were first registered."""
    _PANELS[name] = render


def product_panels_render(request: HttpRequest, asin: str, marketplace: str) -> list[SafeString]:
    """Every registered panel for ``asin`` in ``marketplace``; a panel that fails is left out."""
    rendered = []
    for name, render in _PANELS.items():
        try:
            rendered.append(render(request, asin, marketplace))
        except Exception:  # a panel must never break the page it sits on
            logger.exception("product panel %s failed", name)
    return rendered
