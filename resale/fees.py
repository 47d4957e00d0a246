"""Amazon's selling fees for an ASIN at a price, cached: ``fees_get`` and ``fees_get_many``.

The upstream formats are products' (``products.providers.fees``: SP-API Product Fees v0, Keepa's
``fbaFees`` and referral percentage, the sandbox); this module owns the cache and the one shape
every page, the API and the manifests read, ``FeeQuote``.

A failure is ``available=False`` with a ``reason``, shown as "fees unavailable", never as zero.
Estimates are cached (Django's cache, Redis) per marketplace, ASIN and price for
``FEES_CACHE_SECONDS``; failures only for ``FEES_UNAVAILABLE_SECONDS``, and fees **not asked**
(``retry_after``: the upstream was not called, by our shared rate limit or an open circuit, or a
call stopped after its first batches) not at all: they are asked for next time, and the bulk
kinds wait for them (``defer``) rather than counting an attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from core.errors import DomainError
from core.money import round_money
from products.marketplaces import Marketplace, marketplace_get
from products.providers import ProviderError
from products.providers.base import Money
from products.providers.fees import NOT_ASKED_RETRY_SECONDS, FeeEstimate, FeeFailure, fees_with_fallback
from products.store import upstream_not_called
from products.validation import normalize_asin
from resale.conf import fee_settings

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
UNAVAILABLE = "fees unavailable"


@dataclass(frozen=True, slots=True)
class FeeQuote:
    """Amazon's fees for one unit of ``asin`` sold at ``price`` in ``marketplace`` (FBA).

    Amounts are Decimals in ``currency`` (the marketplace's), rounded to its minor unit. A part is
    None when the source does not report it (Keepa has no closing fee). ``available`` False:
    no amounts at all (``total`` None), ``reason`` says why; show it as "fees unavailable"."""

    asin: str
    marketplace: str
    price: Decimal | None
    available: bool
    referral: Decimal | None
    fulfilment: Decimal | None
    closing: Decimal | None
    other: Decimal | None
    total: Decimal | None
    currency: str
    source: str
    sample: bool
    reason: str
    fetched_at: datetime
    # Not asked now (see the module): ask again after this many seconds. None for an answer.
    retry_after: float | None = None

    @property
    def label(self) -> str:
        """What a page shows for the total: the amount, or "fees unavailable"."""
        return f"{self.total} {self.currency}" if self.available and self.total is not None else UNAVAILABLE

    def to_dict(self) -> dict[str, Any]:
        def amount(value: Decimal | None) -> str | None:
            return str(value) if value is not None else None

        return {
            "asin": self.asin,
            "marketplace": self.marketplace,
            "price": amount(self.price),
            "available": self.available,
            "referral": amount(self.referral),
            "fulfilment": amount(self.fulfilment),
            "closing": amount(self.closing),
            "other": amount(self.other),
            "total": amount(self.total),
            "currency": self.currency,
            "source": self.source,
            "sample": self.sample,
            "reason": self.reason,
            "fetched_at": self.fetched_at.isoformat(),
            "retry_after": self.retry_after,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeeQuote:
        def amount(name: str) -> Decimal | None:
            value = data.get(name)
            return Decimal(value) if value is not None else None

        return cls(
            asin=data["asin"],
            marketplace=data["marketplace"],
            price=amount("price"),
            available=bool(data["available"]),
            referral=amount("referral"),
            fulfilment=amount("fulfilment"),
            closing=amount("closing"),
            other=amount("other"),
            total=amount("total"),
            currency=data["currency"],
            source=data["source"],
            sample=bool(data["sample"]),
            reason=data["reason"],
            fetched_at=datetime.fromisoformat(data["fetched_at"]),
            retry_after=data.get("retry_after"),
        )


def fee_quote_unavailable(
    *,
    asin: str,
    marketplace: Marketplace,
    price: Decimal | None,
    reason: str,
    source: str = "",
    retry_after: float | None = None,
) -> FeeQuote:
    return FeeQuote(
        asin=asin,
        marketplace=marketplace.code,
        price=price,
        available=False,
        referral=None,
        fulfilment=None,
        closing=None,
        other=None,
        total=None,
        currency=marketplace.currency,
        source=source,
        sample=False,
        reason=reason,
        fetched_at=timezone.now(),
        retry_after=retry_after,
    )


def _from_estimate(estimate: FeeEstimate, marketplace: Marketplace) -> FeeQuote:
    def amount(value: Money | None) -> Decimal | None:
        return round_money(value.amount, value.currency) if value is not None else None

    return FeeQuote(
        asin=estimate.asin,
        marketplace=marketplace.code,
        price=estimate.price.amount,
        available=True,
        referral=amount(estimate.referral),
        fulfilment=amount(estimate.fulfilment),
        closing=amount(estimate.closing),
        other=amount(estimate.other),
        total=amount(estimate.total),
        currency=estimate.total.currency,
        source=estimate.source,
        sample=estimate.sample,
        reason="",
        fetched_at=estimate.fetched_at,
    )


def _marketplace(marketplace: str | Marketplace) -> Marketplace:
    return marketplace if isinstance(marketplace, Marketplace) else marketplace_get(marketplace)


def _price(raw: object, marketplace: Marketplace) -> Decimal:
    try:
        price = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise DomainError(
            f"The price {raw!r} is not a number.", code="invalid_price", extra={"price": str(raw)}
        ) from None
    if not price.is_finite() or price <= 0:
        raise DomainError("The price must be more than 0.", code="invalid_price", extra={"price": str(raw)})
    return round_money(price, marketplace.currency)


def _cache_key(marketplace: Marketplace, asin: str, price: Decimal) -> str:
    return f"resale:fees:v{CACHE_VERSION}:{marketplace.code}:{asin}:{price}"


def _cache_get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception:  # the cache is an optimisation: without it, ask the upstream
        logger.warning("fees: cache unavailable", exc_info=True)
        return {}


def _cache_keep(quotes: dict[str, FeeQuote]) -> None:
    settings = fee_settings()
    good = {key: q.to_dict() for key, q in quotes.items() if q.available}
    bad = {key: q.to_dict() for key, q in quotes.items() if not q.available and q.retry_after is None}
    try:
        if good and settings.cache_seconds:
            cache.set_many(good, timeout=settings.cache_seconds)
        if bad and settings.unavailable_seconds:
            cache.set_many(bad, timeout=settings.unavailable_seconds)
    except Exception:
        logger.warning("fees: estimates not cached", exc_info=True)


def fees_get_many(
    *, marketplace: str | Marketplace, items: Iterable[tuple[str, Decimal | str | int | None]]
) -> dict[str, FeeQuote]:
    """A ``FeeQuote`` for each (ASIN, price), keyed by the normalised ASIN (one price per ASIN:
    the last wins). A price of None (no buy box) gives an unavailable quote ("no price"), at no
    upstream cost. Cached estimates are served from the cache; the others are asked for in one
    pass through the fee chain (SP-API batches of 20, Keepa batches of 100).

    Raises ``DomainError`` (400) for an invalid ASIN, marketplace or price; upstream failures are
    unavailable quotes, never errors."""
    market = _marketplace(marketplace)
    wanted: dict[str, Decimal | None] = {}
    for raw_asin, raw_price in items:
        wanted[normalize_asin(raw_asin)] = _price(raw_price, market) if raw_price is not None else None
    quotes: dict[str, FeeQuote] = {
        asin: fee_quote_unavailable(
            asin=asin, marketplace=market, price=None, reason="no price to estimate fees at"
        )
        for asin, price in wanted.items()
        if price is None
    }
    priced = {asin: price for asin, price in wanted.items() if price is not None}
    keys = {asin: _cache_key(market, asin, price) for asin, price in priced.items()}
    cached = _cache_get_many(list(keys.values()))
    missing: list[tuple[str, Money]] = []
    for asin, price in priced.items():
        data = cached.get(keys[asin])
        if data is not None:
            try:
                quotes[asin] = FeeQuote.from_dict(data)
                continue
            except (KeyError, TypeError, ValueError, InvalidOperation):
                logger.warning("fees: unreadable cache entry for %s", asin)
        missing.append((asin, Money(price, market.currency)))
    if missing:
        fetched = _fetch(missing, market)
        _cache_keep({keys[asin]: quote for asin, quote in fetched.items()})
        quotes.update(fetched)
    return {asin: quotes[asin] for asin in wanted}


def _fetch(items: list[tuple[str, Money]], market: Marketplace) -> dict[str, FeeQuote]:
    prices = dict(items)
    try:
        result = fees_with_fallback(items, market)
    except ProviderError as exc:
        logger.warning("fees unavailable for %d ASINs in %s: %s", len(items), market.code, exc.code)
        wait = None
        if upstream_not_called(exc):
            wait = exc.retry_after if exc.retry_after is not None else NOT_ASKED_RETRY_SECONDS
        return {
            asin: fee_quote_unavailable(
                asin=asin,
                marketplace=market,
                price=price.amount,
                reason=exc.message,
                source=exc.provider,
                retry_after=wait,
            )
            for asin, price in items
        }
    quotes: dict[str, FeeQuote] = {}
    for asin in prices:
        answer = result.answers.get(asin)
        if isinstance(answer, FeeEstimate):
            quotes[asin] = _from_estimate(answer, market)
        else:
            failure = answer if isinstance(answer, FeeFailure) else None
            quotes[asin] = fee_quote_unavailable(
                asin=asin,
                marketplace=market,
                price=prices[asin].amount,
                reason=failure.reason if failure is not None else "no fee estimate",
                source=result.source,
                retry_after=failure.retry_after if failure is not None else None,
            )
    return quotes


def fees_get(*, asin: str, marketplace: str | Marketplace, price: Decimal | str | int | None) -> FeeQuote:
    """The ``FeeQuote`` for one ``asin`` at ``price`` (see ``fees_get_many``)."""
    return next(iter(fees_get_many(marketplace=marketplace, items=[(asin, price)]).values()))
