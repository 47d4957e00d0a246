"""A product data provider that is not the sandbox: a small catalogue of known products, real-like.

It answers lookups only for the ASINs it holds (any other is unknown, as a real catalogue's made-up
ASIN would be) and searches them by shared words, so tests can tell sample data from real data.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.utils import timezone

from products.marketplaces import Marketplace
from products.providers import chain
from products.providers.base import ProductRecord, Provider


class CatalogueStubProvider(Provider):
    name = "catalogue_stub"
    label = "Catalogue stub"
    products: ClassVar[dict[str, str]] = {}  # ASIN -> title
    supports_search = True

    def _record(self, asin: str, marketplace: Marketplace) -> ProductRecord:
        return ProductRecord(
            asin=asin,
            marketplace=marketplace.code,
            provider=self.name,
            fetched_at=timezone.now(),
            title=self.products[asin],
        )

    def _fetch_batch(self, asins: list[str], marketplace: Marketplace) -> dict[str, ProductRecord | None]:
        return {asin: self._record(asin, marketplace) if asin in self.products else None for asin in asins}

    def _search(self, keywords: str, marketplace: Marketplace, limit: int) -> list[ProductRecord]:
        words = set(keywords.lower().split())
        ranked = sorted(
            (
                (len(words & set(title.lower().replace(",", " ").split())), asin)
                for asin, title in self.products.items()
            ),
            key=lambda pair: (-pair[0], pair[1]),
        )
        return [self._record(asin, marketplace) for hits, asin in ranked if hits][:limit]


@pytest.fixture
def real_catalogue(settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The provider chain is the stub alone; fill the returned dict (ASIN -> title) with its products."""
    products: dict[str, str] = {}
    monkeypatch.setattr(CatalogueStubProvider, "products", products)
    monkeypatch.setitem(chain.PROVIDERS, CatalogueStubProvider.name, CatalogueStubProvider)
    settings.PRODUCT_PROVIDERS = [CatalogueStubProvider.name]
    return products
