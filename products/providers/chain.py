"""The provider registry and the fallback chain (``PRODUCT_PROVIDERS``, in order).

A provider that fails (unavailable, unreadable answer), whose circuit is open,
that our rate limit holds back, that is not configured or that has no data for
the marketplace is skipped and the next one is tried. "Not found" is an
answer, not a failure: the first provider that answers is believed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import DomainError
from products import conf
from products.marketplaces import Marketplace
from products.providers.base import (
    FALLBACK_ERRORS,
    MarketplaceNotSupported,
    ProductRecord,
    Provider,
    ProviderError,
    ProviderNotConfigured,
    UpstreamBadResponse,
    UpstreamUnavailable,
    product_not_found,
)
from products.providers.circuit import circuit_state
from products.providers.keepa import KeepaProvider
from products.providers.sandbox import SandboxProvider
from products.providers.spapi import SpApiProvider
from products.validation import ProductCode

logger = logging.getLogger(__name__)

PROVIDERS: dict[str, type[Provider]] = {
    SandboxProvider.name: SandboxProvider,
    KeepaProvider.name: KeepaProvider,
    SpApiProvider.name: SpApiProvider,
}


def provider_get(name: str) -> Provider:
    try:
        provider_class = PROVIDERS[name.strip().lower()]
    except KeyError:
        known = sorted(PROVIDERS)
        raise DomainError(
            f"Unknown product data provider {name!r}. Use one of: {', '.join(known)}.",
            code="unknown_provider",
            extra={"provider": name, "valid": known},
        ) from None
    return provider_class()


def provider_chain(names: Sequence[str] | None = None) -> list[Provider]:
    """The providers to try, in order: ``names``, or ``PRODUCT_PROVIDERS``."""
    return [provider_get(name) for name in (names or conf.product_providers())]


@dataclass(frozen=True)
class FetchResult:
    """What the chain delivered: ``records`` from ``provider``, after the ``skipped`` ones failed."""

    provider: str
    records: dict[str, ProductRecord | None]
    skipped: list[ProviderError] = field(default_factory=list)


def fetch_with_fallback(
    asins: Sequence[str], marketplace: Marketplace, *, providers: Sequence[str] | None = None
) -> FetchResult:
    """Records for normalised ``asins`` from the first provider of the chain that can deliver.

    None in ``records`` means that provider does not know the ASIN. When no
    provider can deliver, raises ``UpstreamUnavailable`` (503, with the
    shortest ``retry_after`` any provider gave), ``UpstreamBadResponse`` (502),
    ``MarketplaceNotSupported`` (422) or ``ProviderNotConfigured`` (503).
    """
    chain = provider_chain(providers)
    skipped: list[ProviderError] = []
    for provider in chain:
        try:
            records = provider.fetch_many(asins, marketplace)
        except FALLBACK_ERRORS as exc:
            logger.warning("provider %s skipped: %s (%s)", provider.name, exc.code, exc.message)
            skipped.append(exc)
            continue
        return FetchResult(provider=provider.name, records=records, skipped=skipped)
    raise _chain_failed(skipped, marketplace, [p.name for p in chain])


def fetch_one_with_fallback(
    asin: str, marketplace: Marketplace, *, providers: Sequence[str] | None = None
) -> ProductRecord:
    """The record for a normalised ``asin``.

    ``ProductNotFound`` (404) when the provider that answered does not know it.
    """
    result = fetch_with_fallback([asin], marketplace, providers=providers)
    record = result.records.get(asin)
    if record is None:
        raise product_not_found(asin, marketplace, provider=result.provider)
    return record


@dataclass(frozen=True)
class SearchResult:
    """What a keyword search found: ``records`` from ``provider`` ("" when no provider of the chain
    can search), after the ``skipped`` ones failed."""

    provider: str
    records: list[ProductRecord]
    skipped: list[ProviderError] = field(default_factory=list)

    @property
    def searched(self) -> bool:
        return bool(self.provider)


def search_with_fallback(
    keywords: str, marketplace: Marketplace, *, limit: int = 10, providers: Sequence[str] | None = None
) -> SearchResult:
    """Products matching ``keywords`` from the first provider of the chain that can search and answers.

    Providers that cannot search are passed over; failures fall back as in
    ``fetch_with_fallback`` and, when every provider that can search failed, raise the same way."""
    chain = [provider for provider in provider_chain(providers) if provider.supports_search]
    skipped: list[ProviderError] = []
    for provider in chain:
        try:
            records = provider.search(keywords, marketplace, limit=limit)
        except FALLBACK_ERRORS as exc:
            logger.warning("provider %s search skipped: %s (%s)", provider.name, exc.code, exc.message)
            skipped.append(exc)
            continue
        return SearchResult(provider=provider.name, records=records, skipped=skipped)
    if not chain:
        return SearchResult(provider="", records=[])
    raise _chain_failed(skipped, marketplace, [p.name for p in chain])


@dataclass(frozen=True)
class CodeSearchResult:
    """The products a barcode lookup found (none: no product carries the code), from ``provider``,
    after the ``skipped`` ones failed. ``complete``: the records are whole, as a fetch's."""

    provider: str
    records: list[ProductRecord]
    complete: bool
    skipped: list[ProviderError] = field(default_factory=list)


def search_by_code_with_fallback(
    code: ProductCode, marketplace: Marketplace, *, providers: Sequence[str] | None = None
) -> CodeSearchResult:
    """The products carrying the validated barcode ``code``, from the first provider of the chain
    that can search by code and answers ("none" is an answer). Failures fall back and, when
    every such provider failed, raise as in ``fetch_with_fallback``."""
    chain = [provider for provider in provider_chain(providers) if provider.supports_code_search]
    skipped: list[ProviderError] = []
    for provider in chain:
        try:
            records = provider.search_by_code(code, marketplace)
        except FALLBACK_ERRORS as exc:
            logger.warning("provider %s code search skipped: %s (%s)", provider.name, exc.code, exc.message)
            skipped.append(exc)
            continue
        return CodeSearchResult(
            provider=provider.name, records=records, complete=provider.code_search_complete, skipped=skipped
        )
    if not chain:
        raise ProviderNotConfigured(
            "No product data provider of this deployment can look up barcodes.",
            provider=",".join(p.name for p in provider_chain(providers)),
        )
    raise _chain_failed(skipped, marketplace, [p.name for p in chain])


def _chain_failed(failures: list[ProviderError], marketplace: Marketplace, names: list[str]) -> ProviderError:
    tried = ",".join(names)
    # "reason" (when a provider gave one) tells a provider that was not called at
    # all (circuit open, rate limited) from one that failed: bulk jobs wait for the
    # first and count the second as a failed attempt.
    summary: dict[str, Any] = {
        "providers": [
            {"provider": f.provider, "code": f.code, "message": f.message}
            | ({"reason": f.extra["reason"]} if f.extra.get("reason") else {})
            for f in failures
        ]
    }
    upstream = [f for f in failures if isinstance(f, UpstreamUnavailable | UpstreamBadResponse)]
    if not upstream:
        if failures and all(isinstance(f, MarketplaceNotSupported) for f in failures):
            return MarketplaceNotSupported(
                f"No product data provider has data for the {marketplace.code} marketplace.",
                provider=tried,
                extra=summary,
            )
        return ProviderNotConfigured(
            "No product data provider is configured for this lookup.", provider=tried, extra=summary
        )
    if all(isinstance(f, UpstreamBadResponse) for f in upstream):
        return UpstreamBadResponse(
            "The product data providers sent answers that could not be read.", provider=tried, extra=summary
        )
    waits = [f.retry_after for f in upstream if f.retry_after is not None]
    return UpstreamUnavailable(
        "No product data provider could answer right now; try again shortly.",
        provider=tried,
        retry_after=min(waits) if waits else None,
        extra=summary,
    )


def provider_status(names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Whether each provider of the chain is configured, and its circuit's state (for readiness)."""
    return {
        provider.name: {"configured": provider.is_configured(), "circuit": str(circuit_state(provider.name))}
        for provider in provider_chain(names)
    }
