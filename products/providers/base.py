"""The normalised product record, the provider interface and the provider errors.

Every provider (sandbox, Keepa, SP-API) turns its upstream's wire format into
a ``ProductRecord``; nothing outside ``products/providers/`` sees a wire format.

``ProductRecord.to_dict()`` is the JSON form served by the API and stored by
the cache: timestamps are ISO 8601 in UTC, money is ``{"amount": "21.99",
"currency": "USD"}`` with the amount a decimal *string* in the currency's
major unit (exact, no float rounding), measurements are ``{"value": "499",
"unit": "g"}`` with the value a decimal string, and ``sample_data`` is true
for the sandbox's made-up records. ``ProductRecord.from_dict()`` reads it back.

Prices are landed: ``price``, ``lowest_new_price``, ``lowest_used_price`` and
``buy_box.landed_price`` are what a shopper pays, the item plus its shipping,
whenever the upstream tells the shipping (SP-API's offers do; Keepa's buy box,
used-by-condition and, since 2026-02-16, NEW prices include it). ``price_parts``
keeps, per price, its basis (``landed`` or ``listing``: shipping not included,
the upstream does not say it) and its listing and shipping parts where known;
``price_basis`` sums it up for the record (``landed``, ``mixed``, or None for a
record stored before prices were normalised).

Sales velocity (``sales_velocity``) is what the upstream itself reports about how
fast a product sells, with its source and as-of times: Keepa's ``monthlySold``
(Amazon's "1K+ bought in past month", a lower bound) and its counts of sales rank
drops over 30/90/180/365 days. SP-API reports no sales figure: its records say
"not available from SP-API". Nothing here estimates sales from a rank.

Why one module of this length: these three are the providers' one contract: every
provider imports the record it builds, the errors it raises and the interface it
implements from here, and the package's ``__init__`` re-exports them. About half of it is
the record's value classes with their JSON form, which only make sense beside
``ProductRecord``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, TypeVar

from core.errors import DomainError, NotFoundError, UnavailableError, UnsupportedError, UpstreamError
from core.money import currency_exponent
from products import conf
from products.marketplaces import Marketplace
from products.providers.circuit import CircuitBreaker
from products.validation import ProductCode

logger = logging.getLogger(__name__)

# Bump when the shape of to_dict() changes, so stored records can be told apart.
# 2: prices are landed (listing + shipping), with ``price_parts`` and ``price_basis``.
# 3: ``sales_velocity`` (monthly sold and sales rank drops, with their source and as-of times).
RECORD_VERSION = 3

#: A price that includes the shipping (what a shopper pays), or one that does not.
LANDED = "landed"
LISTING = "listing"

# --- The record -----------------------------------------------------------------------------


def _dt_to_json(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dt_from_json(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """``amount`` in the major unit, rounded to the currency's minor unit."""
        quantum = Decimal(1).scaleb(-currency_exponent(currency))
        return cls(Decimal(amount).quantize(quantum, rounding=ROUND_HALF_UP), currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """``units`` of the currency's smallest unit: 2199 USD cents is 21.99 USD."""
        return cls(Decimal(int(units)).scaleb(-currency_exponent(currency)), currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot subtract {other.currency} from {self.currency}")
        return Money(self.amount - other.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def to_dict(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Money:
        return cls(Decimal(data["amount"]), data["currency"])


@dataclass(frozen=True, slots=True)
class Measurement:
    """A length or weight in the unit the provider gave: mm, cm, m, in, g, kg, lb, oz."""

    value: Decimal
    unit: str

    def __str__(self) -> str:
        return f"{self.value} {self.unit}"

    def to_dict(self) -> dict[str, str]:
        return {"value": str(self.value), "unit": self.unit}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(Decimal(data["value"]), data["unit"])


@dataclass(frozen=True, slots=True)
class Dimensions:
    length: Measurement | None = None
    width: Measurement | None = None
    height: Measurement | None = None
    weight: Measurement | None = None

    _FIELDS: ClassVar[tuple[str, ...]] = ("length", "width", "height", "weight")

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self._FIELDS)

    def to_dict(self) -> dict[str, dict[str, str] | None]:
        return {
            name: (m.to_dict() if (m := getattr(self, name)) is not None else None) for name in self._FIELDS
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dimensions:
        return cls(
            **{name: Measurement.from_dict(data[name]) if data.get(name) else None for name in cls._FIELDS}
        )


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class SalesRank:
    rank: int
    category_id: str | None
    category: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "category_id": self.category_id, "category": self.category}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SalesRank:
        return cls(rank=data["rank"], category_id=data.get("category_id"), category=data.get("category"))


@dataclass(frozen=True, slots=True)
class BuyBox:
    price: Money
    shipping: Money | None = None
    seller_id: str | None = None
    is_fba: bool | None = None

    @property
    def landed_price(self) -> Money:
        return self.price + self.shipping if self.shipping is not None else self.price

    def to_dict(self) -> dict[str, Any]:
        return {
            "price": self.price.to_dict(),
            "shipping": self.shipping.to_dict() if self.shipping else None,
            "landed_price": self.landed_price.to_dict(),
            "seller_id": self.seller_id,
            "is_fba": self.is_fba,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuyBox:
        return cls(
            price=Money.from_dict(data["price"]),
            shipping=Money.from_dict(data["shipping"]) if data.get("shipping") else None,
            seller_id=data.get("seller_id"),
            is_fba=data.get("is_fba"),
        )


@dataclass(frozen=True, slots=True)
class Price:
    """One price as the upstream gave it: ``total`` and how it is made up.

    ``basis`` LANDED: ``total`` includes the shipping (``listing`` and ``shipping``,
    when the upstream gives them, add up to it; Keepa's NEW gives only the total).
    ``basis`` LISTING: ``total`` is the item's price alone; the upstream does not
    say what shipping costs (None: not the same as free).
    """

    total: Money
    basis: str
    listing: Money | None = None
    shipping: Money | None = None

    @classmethod
    def of_parts(cls, listing: Money, shipping: Money | None) -> Price:
        """The item's price and its shipping: landed when the shipping is known."""
        if shipping is None:
            return cls(listing, LISTING, listing, None)
        return cls(listing + shipping, LANDED, listing, shipping)

    @classmethod
    def of_buy_box(cls, buy_box: BuyBox) -> Price:
        return cls.of_parts(buy_box.price, buy_box.shipping)

    def to_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "listing": self.listing.to_dict() if self.listing is not None else None,
            "shipping": self.shipping.to_dict() if self.shipping is not None else None,
        }


#: The windows, in days, over which a provider counts sales rank drops.
RANK_DROP_DAYS = (30, 90, 180, 365)


@dataclass(frozen=True, slots=True)
class SalesVelocity:
    """How fast a product sells, as the provider ``source`` reports it; never an estimate of ours.

    ``monthly_sold``: units bought in the past month as Amazon shows it ("1K+ bought in
    past month": 1000 means at least 1,000), as of ``monthly_sold_as_of``; None when the
    provider has no such figure (most products have none). ``rank_drops``: per window in
    days (``RANK_DROP_DAYS``), how often the sales rank dropped (improved), which the
    provider counts as a sale; as of ``rank_drops_as_of``. ``unavailable``: why there is
    nothing at all ("not available from SP-API").
    """

    source: str
    monthly_sold: int | None = None
    monthly_sold_as_of: datetime | None = None
    rank_drops: tuple[tuple[int, int | None], ...] = ()
    rank_drops_as_of: datetime | None = None
    unavailable: str | None = None

    def drops(self, days: int) -> int | None:
        """The sales rank drops within the last ``days`` days, if the provider counted them."""
        return dict(self.rank_drops).get(days)

    def to_dict(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return _dt_to_json(value) if value is not None else None

        return {
            "source": self.source,
            "monthly_sold": self.monthly_sold,
            "monthly_sold_as_of": when(self.monthly_sold_as_of),
            **{f"rank_drops_{days}": self.drops(days) for days in RANK_DROP_DAYS},
            "rank_drops_as_of": when(self.rank_drops_as_of),
            "unavailable": self.unavailable,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SalesVelocity:
        def when(name: str) -> datetime | None:
            return _dt_from_json(data[name]) if data.get(name) else None

        return cls(
            source=str(data["source"]),
            monthly_sold=data.get("monthly_sold"),
            monthly_sold_as_of=when("monthly_sold_as_of"),
            rank_drops=tuple(
                (days, data[f"rank_drops_{days}"])
                for days in RANK_DROP_DAYS
                if data.get(f"rank_drops_{days}") is not None
            ),
            rank_drops_as_of=when("rank_drops_as_of"),
            unavailable=data.get("unavailable"),
        )


@dataclass(frozen=True, slots=True)
class OfferCounts:
    new: int | None = None
    used: int | None = None
    total: int | None = None


HISTORY_KINDS = ("price", "rank", "count", "rating")


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One observation; ``value`` None means nothing was on offer (or ranked) then."""

    at: datetime
    value: Decimal | int | float | None


@dataclass(frozen=True, slots=True)
class History:
    """A time series, oldest first: ``kind`` price (Decimal, in ``currency``), rank, count or rating.

    ``basis`` (prices of offers): LANDED, the points include shipping, or LISTING, they
    do not; ``landed_since``: a LANDED series whose points before then do not (Keepa's NEW).
    """

    metric: str
    kind: str
    points: tuple[HistoryPoint, ...]
    currency: str | None = None
    basis: str | None = None
    landed_since: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        def value(v: Decimal | int | float | None) -> str | int | float | None:
            return str(v) if isinstance(v, Decimal) else v

        return {
            "metric": self.metric,
            "kind": self.kind,
            "currency": self.currency,
            "basis": self.basis,
            "landed_since": _dt_to_json(self.landed_since) if self.landed_since else None,
            "points": [[_dt_to_json(p.at), value(p.value)] for p in self.points],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        kind = data["kind"]
        read: Any = {"price": Decimal, "rating": float}.get(kind, int)
        return cls(
            metric=data["metric"],
            kind=kind,
            currency=data.get("currency"),
            basis=data.get("basis"),
            landed_since=_dt_from_json(data["landed_since"]) if data.get("landed_since") else None,
            points=tuple(
                HistoryPoint(_dt_from_json(at), read(v) if v is not None else None)
                for at, v in data["points"]
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductRecord:
    """One product in one marketplace, as a provider saw it at ``fetched_at``.

    ``price`` is what a shopper pays now: the buy box's landed price, or else
    Amazon's own offer, or else the lowest new offer (landed). Fields a provider
    does not have are None (or empty); SP-API, for example, has no ratings or
    histories. ``price_parts``: the basis and parts of each price that has one
    (see the module's docstring); build the prices with ``record_prices``.
    """

    asin: str
    marketplace: str
    provider: str
    fetched_at: datetime
    sample_data: bool = False
    title: str | None = None
    brand: str | None = None
    manufacturer: str | None = None
    images: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()
    sales_rank: SalesRank | None = None
    sales_ranks: tuple[SalesRank, ...] = ()
    price: Money | None = None
    list_price: Money | None = None
    amazon_price: Money | None = None
    lowest_new_price: Money | None = None
    lowest_used_price: Money | None = None
    buy_box: BuyBox | None = None
    offers: OfferCounts | None = None
    rating: float | None = None
    review_count: int | None = None
    item_dimensions: Dimensions | None = None
    package_dimensions: Dimensions | None = None
    eans: tuple[str, ...] = ()
    upcs: tuple[str, ...] = ()
    parent_asin: str | None = None
    history: tuple[History, ...] = field(default=())
    price_parts: tuple[tuple[str, Price], ...] = ()
    sales_velocity: SalesVelocity | None = None

    _MONEY_FIELDS: ClassVar[tuple[str, ...]] = (
        "price",
        "list_price",
        "amazon_price",
        "lowest_new_price",
        "lowest_used_price",
    )

    # The prices that are landed whenever the upstream gives the shipping.
    _LANDED_FIELDS: ClassVar[tuple[str, ...]] = ("price", "lowest_new_price", "lowest_used_price")

    def parts(self, name: str) -> Price | None:
        """The basis and parts of the price ``name`` (``price``, ``lowest_new_price``...)."""
        return dict(self.price_parts).get(name)

    @property
    def price_basis(self) -> str | None:
        """LANDED when every landed-kind price there is includes shipping, "mixed" when one
        does not, None for a record stored before prices had parts."""
        if not self.price_parts:
            return None
        parts = dict(self.price_parts)
        bases = {parts[name].basis for name in self._LANDED_FIELDS if name in parts}
        return LANDED if bases <= {LANDED} else "mixed"

    def to_dict(self) -> dict[str, Any]:
        def money(name: str) -> dict[str, str] | None:
            value: Money | None = getattr(self, name)
            return value.to_dict() if value is not None else None

        return {
            "record_version": RECORD_VERSION,
            "asin": self.asin,
            "marketplace": self.marketplace,
            "provider": self.provider,
            "sample_data": self.sample_data,
            "fetched_at": _dt_to_json(self.fetched_at),
            "title": self.title,
            "brand": self.brand,
            "manufacturer": self.manufacturer,
            "images": list(self.images),
            "categories": [{"id": c.id, "name": c.name} for c in self.categories],
            "sales_rank": self.sales_rank.to_dict() if self.sales_rank else None,
            "sales_ranks": [r.to_dict() for r in self.sales_ranks],
            **{name: money(name) for name in self._MONEY_FIELDS},
            "price_basis": self.price_basis,
            "price_parts": {name: parts.to_dict() for name, parts in self.price_parts},
            "buy_box": self.buy_box.to_dict() if self.buy_box else None,
            "offers": (
                {"new": self.offers.new, "used": self.offers.used, "total": self.offers.total}
                if self.offers
                else None
            ),
            "rating": self.rating,
            "review_count": self.review_count,
            "item_dimensions": self.item_dimensions.to_dict() if self.item_dimensions else None,
            "package_dimensions": self.package_dimensions.to_dict() if self.package_dimensions else None,
            "eans": list(self.eans),
            "upcs": list(self.upcs),
            "parent_asin": self.parent_asin,
            "history": [h.to_dict() for h in self.history],
            "sales_velocity": self.sales_velocity.to_dict() if self.sales_velocity else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProductRecord:
        def money(name: str) -> Money | None:
            return Money.from_dict(data[name]) if data.get(name) else None

        def dimensions(name: str) -> Dimensions | None:
            return Dimensions.from_dict(data[name]) if data.get(name) else None

        def parts(name: str, entry: dict[str, Any]) -> tuple[str, Price]:
            total = Money.from_dict(data[name])
            listing, shipping = entry.get("listing"), entry.get("shipping")
            return name, Price(
                total=total,
                basis=str(entry["basis"]),
                listing=Money.from_dict(listing) if listing else None,
                shipping=Money.from_dict(shipping) if shipping else None,
            )

        offers = data.get("offers")
        return cls(
            asin=data["asin"],
            marketplace=data["marketplace"],
            provider=data["provider"],
            fetched_at=_dt_from_json(data["fetched_at"]),
            sample_data=bool(data.get("sample_data", False)),
            title=data.get("title"),
            brand=data.get("brand"),
            manufacturer=data.get("manufacturer"),
            images=tuple(data.get("images") or ()),
            categories=tuple(Category(c["id"], c["name"]) for c in data.get("categories") or ()),
            sales_rank=SalesRank.from_dict(data["sales_rank"]) if data.get("sales_rank") else None,
            sales_ranks=tuple(SalesRank.from_dict(r) for r in data.get("sales_ranks") or ()),
            **{name: money(name) for name in cls._MONEY_FIELDS},
            buy_box=BuyBox.from_dict(data["buy_box"]) if data.get("buy_box") else None,
            offers=OfferCounts(**offers) if offers else None,
            rating=data.get("rating"),
            review_count=data.get("review_count"),
            item_dimensions=dimensions("item_dimensions"),
            package_dimensions=dimensions("package_dimensions"),
            eans=tuple(data.get("eans") or ()),
            upcs=tuple(data.get("upcs") or ()),
            parent_asin=data.get("parent_asin"),
            history=tuple(History.from_dict(h) for h in data.get("history") or ()),
            # Records stored before version 2 have none: their price_basis reads as None.
            price_parts=tuple(
                parts(name, entry)
                for name, entry in (data.get("price_parts") or {}).items()
                if data.get(name)
            ),
            # Records stored before version 3 have none.
            sales_velocity=(
                SalesVelocity.from_dict(data["sales_velocity"]) if data.get("sales_velocity") else None
            ),
        )


def current_price(buy_box: BuyBox | None, amazon: Price | None, lowest_new: Price | None) -> Price | None:
    """What a shopper pays now, by the record's rule (see ``ProductRecord``)."""
    if buy_box is not None:
        return Price.of_buy_box(buy_box)
    return amazon or lowest_new


def record_prices(
    *,
    buy_box: BuyBox | None,
    amazon: Price | None = None,
    lowest_new: Price | None = None,
    lowest_used: Price | None = None,
) -> dict[str, Any]:
    """``ProductRecord``'s price fields (``price``, ``amazon_price``, ``lowest_new_price``,
    ``lowest_used_price``, ``buy_box`` and ``price_parts``) from a provider's prices."""
    prices = {
        "price": current_price(buy_box, amazon, lowest_new),
        "amazon_price": amazon,
        "lowest_new_price": lowest_new,
        "lowest_used_price": lowest_used,
    }
    return {
        **{name: price.total if price is not None else None for name, price in prices.items()},
        "buy_box": buy_box,
        "price_parts": tuple((name, price) for name, price in prices.items() if price is not None),
    }


# --- Errors -----------------------------------------------------------------------------------


class ProviderError(DomainError):
    """A provider could not deliver. ``counts_as_failure``: whether it trips the circuit breaker."""

    counts_as_failure: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str,
        retry_after: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.provider = provider
        self.retry_after = retry_after
        details: dict[str, Any] = {"provider": provider, **(extra or {})}
        if retry_after is not None:
            details["retry_after"] = round(retry_after, 3)
        super().__init__(message, extra=details, retry_after=retry_after)


class ProductNotFound(ProviderError, NotFoundError):
    code = "product_not_found"
    default_message = "No product with this ASIN in this marketplace."


class UpstreamUnavailable(ProviderError, UnavailableError):
    """The provider could not answer now (timeout, 5xx, out of quota...); ``retry_after`` when known."""

    code = "upstream_unavailable"
    default_message = "The product data provider is unavailable; try again shortly."
    counts_as_failure = True


class CircuitOpen(UpstreamUnavailable):
    """Not called at all: the provider failed repeatedly and its circuit is open."""

    counts_as_failure = False


class RateLimited(UpstreamUnavailable):
    """Not called at all: our own shared rate limit would have made the call wait too long."""

    counts_as_failure = False


class UpstreamBadResponse(ProviderError, UpstreamError):
    """The provider answered, but not with usable data: garbage, an unknown shape, a refusal."""

    code = "upstream_bad_response"
    default_message = "The product data provider sent an answer that could not be read."
    counts_as_failure = True


class ProviderNotConfigured(ProviderError, UnavailableError):
    code = "provider_not_configured"
    default_message = "The product data provider is not configured."


class MarketplaceNotSupported(ProviderError, UnsupportedError):
    code = "marketplace_not_supported"
    default_message = "The product data provider has no data for this marketplace."


# Failures after which the next provider in the chain is tried.
FALLBACK_ERRORS = (UpstreamUnavailable, UpstreamBadResponse, ProviderNotConfigured, MarketplaceNotSupported)


@contextmanager
def decoding(provider: str, what: str) -> Iterator[None]:
    """Turn a surprise in the upstream's answer into ``UpstreamBadResponse``."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        logger.warning("%s: unreadable %s: %s: %s", provider, what, type(exc).__name__, exc)
        raise UpstreamBadResponse(
            f"The {provider} answer for {what} could not be read.",
            provider=provider,
            extra={"reason": type(exc).__name__},
        ) from exc


# --- The interface ------------------------------------------------------------------------------


_T = TypeVar("_T")

# The most ASINs a barcode lookup answers (searchCatalogItems' largest page).
CODE_SEARCH_LIMIT = 20


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class Provider(ABC):
    """One upstream source of product records.

    Implementations define ``name``, ``label``, ``_fetch_batch`` and, when it
    applies, ``is_configured``, ``supports`` and ``max_batch_size``. The
    public methods add what every provider shares: duplicates folded, batches
    cut to ``max_batch_size``, and the circuit breaker around each batch.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    sample_data: ClassVar[bool] = False

    @property
    def max_batch_size(self) -> int:
        return 1

    def is_configured(self) -> bool:
        return True

    def supports(self, marketplace: Marketplace) -> bool:
        return True

    @abstractmethod
    def _fetch_batch(self, asins: list[str], marketplace: Marketplace) -> dict[str, ProductRecord | None]:
        """Records for at most ``max_batch_size`` ASINs; None (or absent) for an unknown ASIN.

        Raises ``UpstreamUnavailable`` or ``UpstreamBadResponse`` when the batch
        as a whole could not be fetched.
        """

    def fetch_many(self, asins: Sequence[str], marketplace: Marketplace) -> dict[str, ProductRecord | None]:
        """A record, or None when the upstream does not know the ASIN, for each of ``asins``.

        ``asins`` must already be normalised (``products.validation.normalize_asin``).
        Raises ``ProviderNotConfigured``, ``MarketplaceNotSupported``, ``CircuitOpen``,
        ``RateLimited``, ``UpstreamUnavailable`` or ``UpstreamBadResponse``; a failure
        of any batch fails the call (callers with many ASINs send ``max_batch_size`` at a time).
        """
        if not self.is_configured():
            raise ProviderNotConfigured(f"The {self.label} provider is not configured.", provider=self.name)
        if not self.supports(marketplace):
            raise MarketplaceNotSupported(
                f"{self.label} has no data for the {marketplace.code} marketplace.",
                provider=self.name,
                extra={"marketplace": marketplace.code},
            )
        unique = list(dict.fromkeys(asins))
        breaker = CircuitBreaker(self.name)
        results: dict[str, ProductRecord | None] = {}
        for batch in _chunks(unique, self.max_batch_size):
            retry_after = breaker.allow(probe_seconds=_longest_call_seconds())
            if retry_after is not None:
                raise CircuitOpen(
                    f"{self.label} failed repeatedly and is paused; try again shortly.",
                    provider=self.name,
                    retry_after=retry_after,
                    extra={"reason": "circuit_open"},
                )
            try:
                fetched = self._fetch_batch(batch, marketplace)
            except ProviderError as exc:
                if exc.counts_as_failure:
                    breaker.record_failure()
                raise
            breaker.record_success()
            results.update({asin: fetched.get(asin) for asin in batch})
        return results

    def fetch_one(self, asin: str, marketplace: Marketplace) -> ProductRecord:
        """The record for ``asin``; ``ProductNotFound`` when the upstream does not know it."""
        record = self.fetch_many([asin], marketplace).get(asin)
        if record is None:
            raise product_not_found(asin, marketplace, provider=self.name)
        return record

    # --- Optional: keyword search (FNSKU conversion's fallback) ---------------------------------

    #: Whether ``search`` can find anything; providers that cannot search answer [].
    supports_search: ClassVar[bool] = False

    def _search(self, keywords: str, marketplace: Marketplace, limit: int) -> list[ProductRecord]:
        """At most ``limit`` products matching ``keywords``, best first (only if ``supports_search``)."""
        raise NotImplementedError

    def search(self, keywords: str, marketplace: Marketplace, *, limit: int = 10) -> list[ProductRecord]:
        """Products whose listing matches ``keywords`` (a product name as printed on a label), best first.

        The records may be partial (title, brand, images): a search is not a lookup.
        A provider that cannot search returns []. Raises like ``fetch_many``, under
        the same circuit breaker."""
        keywords = " ".join(keywords.split())
        if not self.supports_search or not keywords or limit < 1:
            return []
        return self._guarded(lambda: self._search(keywords, marketplace, limit), marketplace)[:limit]

    # --- Optional: lookup by barcode (EAN, UPC, ISBN) ---------------------------------------------

    #: Whether ``search_by_code`` can find anything; providers that cannot answer [].
    supports_code_search: ClassVar[bool] = False
    #: Whether ``search_by_code`` gives whole records, as ``fetch_many`` would (then they are
    #: kept in the product store), or partial ones (title, brand, images; no offers).
    code_search_complete: ClassVar[bool] = False

    def _search_by_code(self, code: ProductCode, marketplace: Marketplace) -> list[ProductRecord]:
        """The products carrying ``code`` (only if ``supports_code_search``); [] when none does."""
        raise NotImplementedError

    def search_by_code(self, code: ProductCode, marketplace: Marketplace) -> list[ProductRecord]:
        """The products whose barcode is ``code``, one per ASIN, at most ``CODE_SEARCH_LIMIT``.

        One code may belong to several ASINs (variations, bundles, re-listings).
        A provider that cannot search by code returns []. Raises like
        ``fetch_many``, under the same circuit breaker."""
        if not self.supports_code_search:
            return []
        found = self._guarded(lambda: self._search_by_code(code, marketplace), marketplace)
        unique = {record.asin: record for record in reversed(found)}  # the first of duplicates wins
        return [unique[asin] for asin in dict.fromkeys(r.asin for r in found)][:CODE_SEARCH_LIMIT]

    def _guarded(self, call: Callable[[], _T], marketplace: Marketplace) -> _T:
        """``call`` if this provider is configured and serves ``marketplace``, under its circuit breaker."""
        if not self.is_configured():
            raise ProviderNotConfigured(f"The {self.label} provider is not configured.", provider=self.name)
        if not self.supports(marketplace):
            raise MarketplaceNotSupported(
                f"{self.label} has no data for the {marketplace.code} marketplace.",
                provider=self.name,
                extra={"marketplace": marketplace.code},
            )
        breaker = CircuitBreaker(self.name)
        retry_after = breaker.allow(probe_seconds=_longest_call_seconds())
        if retry_after is not None:
            raise CircuitOpen(
                f"{self.label} failed repeatedly and is paused; try again shortly.",
                provider=self.name,
                retry_after=retry_after,
                extra={"reason": "circuit_open"},
            )
        try:
            result = call()
        except ProviderError as exc:
            if exc.counts_as_failure:
                breaker.record_failure()
            raise
        breaker.record_success()
        return result


def product_not_found(asin: str, marketplace: Marketplace, *, provider: str) -> ProductNotFound:
    return ProductNotFound(
        f"No product with ASIN {asin} in the {marketplace.code} marketplace.",
        provider=provider,
        extra={"asin": asin, "marketplace": marketplace.code},
    )


def product_code_not_found(code: ProductCode, marketplace: Marketplace, *, provider: str) -> ProductNotFound:
    return ProductNotFound(
        f"No product with {code.label} {code.value} in the {marketplace.code} marketplace.",
        provider=provider,
        extra={"code": code.value, "code_type": code.type, "marketplace": marketplace.code},
    )


# SP-API makes up to three upstream calls per batch: token, catalog, pricing.
_CALLS_PER_BATCH = 3


def _longest_call_seconds() -> float:
    """How long one batch can take: a half-open probe's claim lasts this long."""
    http = conf.http_settings()
    per_attempt = http.connect_timeout + http.read_timeout + conf.rate_limit_max_wait()
    return _CALLS_PER_BATCH * (http.retry_attempts * per_attempt + http.retry_budget)
