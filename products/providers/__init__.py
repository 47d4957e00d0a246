"""Upstream product data providers: one small interface, and the only code that knows wire formats.

Use it as::

    from products.providers import fetch_one_with_fallback
    record = fetch_one_with_fallback("B08N5WRWNW", marketplace_get("DE"))
    record.to_dict()
"""

from products.providers.base import (
    CircuitOpen,
    MarketplaceNotSupported,
    ProductNotFound,
    ProductRecord,
    Provider,
    ProviderError,
    ProviderNotConfigured,
    RateLimited,
    UpstreamBadResponse,
    UpstreamUnavailable,
)
from products.providers.chain import (
    PROVIDERS,
    CodeSearchResult,
    FetchResult,
    SearchResult,
    fetch_one_with_fallback,
    fetch_with_fallback,
    provider_chain,
    provider_get,
    provider_status,
    search_by_code_with_fallback,
    search_with_fallback,
)
from products.providers.circuit import CircuitState, circuit_state

__all__ = [
    "PROVIDERS",
    "CircuitOpen",
    "CircuitState",
    "CodeSearchResult",
    "FetchResult",
    "MarketplaceNotSupported",
    "ProductNotFound",
    "ProductRecord",
    "Provider",
    "ProviderError",
    "ProviderNotConfigured",
    "RateLimited",
    "SearchResult",
    "UpstreamBadResponse",
    "UpstreamUnavailable",
    "circuit_state",
    "fetch_one_with_fallback",
    "fetch_with_fallback",
    "provider_chain",
    "provider_get",
    "provider_status",
    "search_by_code_with_fallback",
    "search_with_fallback",
]
