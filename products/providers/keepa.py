"""Keepa's product API (``GET {KEEPA_API_BASE}/product``), as in ../shared/reference/keepa/keepa.md.

Up to 100 ASINs a request. Lookup by barcode is the same request with ``code``
(a UPC, EAN or ISBN-13) instead of ``asin``: every product carrying the code
comes back, so one code may give several ASINs. Keepa's quirks, decoded here
and nowhere else:

- Times are "Keepa minutes": minutes since 2011-01-01 UTC.
- Prices are integers in the currency's smallest unit; -1 means no offer.
- Rating is 0..50 (46 = 4.6 stars).
- ``csv`` holds the histories by type index (Keepa's ``CsvType``, below),
  flat ``[time, value, ...]`` lists, oldest first; the shipping-inclusive
  types hold ``[time, price, shipping, ...]`` triples. ``stats.current`` has
  each type's current value (landed, price + shipping, for those types).
- Landed prices: the buy box (``stats.buyBoxPrice`` + ``buyBoxShipping``, or
  BUY_BOX_SHIPPING), the used-by-condition types and, for data collected from
  2026-02-16 on, NEW include shipping; AMAZON and USED do not (``price_parts``
  says so: basis ``listing``). The lowest used price is the lowest landed
  used-by-condition price when Keepa gives those (they need ``offers``), else USED.
- Images: the ``images`` array (``l`` large, ``m`` medium file names), which
  replaced the deprecated ``imagesCSV`` (read when ``images`` is missing);
  file names under ``https://m.media-amazon.com/images/I/``.
- Sales velocity, as Keepa reports it (never estimated here): ``monthlySold``, Amazon's
  "bought in past month" figure (a lower bound: 1000 is "1K+"; most products have none,
  null or 0), updated at ``lastSoldUpdate``; and ``stats.salesRankDrops30`` / ``90`` /
  ``180`` / ``365``, the sales rank drops Keepa counts as sales (-1: not counted), as of
  the product's ``lastUpdate``.
- An ASIN Keepa does not know comes back as a stub with no title and no data.

Quota: Keepa meters tokens (1 per product, more for some options) from a
bucket refilled every minute. Every answer, 429 included, carries
``tokensLeft`` and ``refillIn``; they are kept in Redis, shared by all
processes, so once the bucket is empty nobody calls Keepa until the refill
(waiting for it when that is short, failing with ``retry_after`` when not).

Why one module of this length: it is Keepa's whole wire format behind the one provider
interface: the product request, the token bucket it reports, and the decoding of its
answer (the csv type table, landed prices, images) into a ``ProductRecord``; about half
is that decoding, which only makes sense beside the type table it reads.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

import requests
from django.core.cache import cache
from django.utils import timezone
from redis import RedisError

from core.shared_state import redis_client, shared_key
from products import conf
from products.marketplaces import Marketplace
from products.providers.base import (
    LANDED,
    LISTING,
    RANK_DROP_DAYS,
    BuyBox,
    Category,
    Dimensions,
    History,
    HistoryPoint,
    Measurement,
    Money,
    OfferCounts,
    Price,
    ProductRecord,
    Provider,
    RateLimited,
    SalesRank,
    SalesVelocity,
    UpstreamBadResponse,
    decoding,
    record_prices,
)
from products.providers.http import UpstreamClient, json_body
from products.validation import ProductCode

logger = logging.getLogger(__name__)

MAX_ASINS_PER_REQUEST = 100
IMAGE_BASE_URL = "https://m.media-amazon.com/images/I/"
# Unix milliseconds = (Keepa minutes + 21564000) * 60000.
KEEPA_MINUTES_AT_UNIX_EPOCH = -21_564_000


class CsvType(IntEnum):
    """Keepa's csv type indexes, as in its API backend's ``Product.CsvType`` (keepacom/api_backend)."""

    AMAZON = 0
    NEW = 1  # includes shipping for data collected from 2026-02-16 on
    USED = 2
    SALES = 3
    LIST_PRICE = 4
    COLLECTIBLE = 5
    REFURBISHED = 6
    NEW_FBM_SHIPPING = 7
    LIGHTNING_DEAL = 8
    WAREHOUSE = 9
    NEW_FBA = 10
    COUNT_NEW = 11
    COUNT_USED = 12
    COUNT_REFURBISHED = 13
    COUNT_COLLECTIBLE = 14
    EXTRA_INFO_UPDATES = 15
    RATING = 16
    COUNT_REVIEWS = 17
    BUY_BOX_SHIPPING = 18
    USED_NEW_SHIPPING = 19
    USED_VERY_GOOD_SHIPPING = 20
    USED_GOOD_SHIPPING = 21
    USED_ACCEPTABLE_SHIPPING = 22
    COLLECTIBLE_NEW_SHIPPING = 23
    COLLECTIBLE_VERY_GOOD_SHIPPING = 24
    COLLECTIBLE_GOOD_SHIPPING = 25
    COLLECTIBLE_ACCEPTABLE_SHIPPING = 26
    REFURBISHED_SHIPPING = 27
    EBAY_NEW_SHIPPING = 28
    EBAY_USED_SHIPPING = 29
    TRADE_IN = 30
    RENT = 31
    BUY_BOX_USED_SHIPPING = 32
    PRIME_EXCL = 33
    COUNT_NEW_FBA = 34
    COUNT_NEW_FBM = 35


# The types stored as [time, price, shipping] triples: CsvType's ``isWithShipping``.
_TRIPLE_TYPES = frozenset(
    {
        CsvType.NEW_FBM_SHIPPING,
        CsvType.BUY_BOX_SHIPPING,
        *range(CsvType.USED_NEW_SHIPPING, CsvType.EBAY_USED_SHIPPING + 1),
        CsvType.BUY_BOX_USED_SHIPPING,
    }
)
# The used conditions, each with its landed price: the lowest of them is the lowest used.
_USED_BY_CONDITION = (
    CsvType.USED_NEW_SHIPPING,
    CsvType.USED_VERY_GOOD_SHIPPING,
    CsvType.USED_GOOD_SHIPPING,
    CsvType.USED_ACCEPTABLE_SHIPPING,
)
# Keepa's NEW price includes shipping for data collected from then on.
NEW_INCLUDES_SHIPPING_SINCE = datetime(2026, 2, 16, tzinfo=UTC)

# (metric, csv type, kind, basis). The shipping-inclusive types are landed prices (price + shipping).
HISTORY_SERIES: tuple[tuple[str, CsvType, str, str | None], ...] = (
    ("amazon_price", CsvType.AMAZON, "price", LISTING),
    ("new_price", CsvType.NEW, "price", LANDED),  # since NEW_INCLUDES_SHIPPING_SINCE
    ("used_price", CsvType.USED, "price", LISTING),
    ("list_price", CsvType.LIST_PRICE, "price", None),
    ("new_fba_price", CsvType.NEW_FBA, "price", LISTING),
    ("buy_box_landed_price", CsvType.BUY_BOX_SHIPPING, "price", LANDED),
    ("buy_box_used_landed_price", CsvType.BUY_BOX_USED_SHIPPING, "price", LANDED),
    ("sales_rank", CsvType.SALES, "rank", None),
    ("new_offer_count", CsvType.COUNT_NEW, "count", None),
    ("used_offer_count", CsvType.COUNT_USED, "count", None),
    ("rating", CsvType.RATING, "rating", None),
    ("review_count", CsvType.COUNT_REVIEWS, "count", None),
)

_OFFER_COUNT_TYPES = (
    CsvType.COUNT_NEW,
    CsvType.COUNT_USED,
    CsvType.COUNT_REFURBISHED,
    CsvType.COUNT_COLLECTIBLE,
)

_HTTP_REFUSALS = {
    400: "the request was rejected",
    401: "the API key was refused",
    402: "the API key has no valid access or subscription",
    403: "the API key was refused",
    405: "the method is unknown",
}


def keepa_time(minutes: int) -> datetime:
    """A Keepa time (minutes since 2011-01-01 UTC) as an aware datetime."""
    return datetime.fromtimestamp((int(minutes) - KEEPA_MINUTES_AT_UNIX_EPOCH) * 60, tz=UTC)


# --- Decoding ------------------------------------------------------------------------------------


def _series(product: dict[str, Any], index: int) -> list[int] | None:
    csv = product.get("csv")
    if csv is None:
        return None
    if not isinstance(csv, list):
        raise TypeError("csv is not a list")
    series = csv[index] if index < len(csv) else None
    if series is not None and not isinstance(series, list):
        raise TypeError(f"csv[{index}] is not a list")
    return series or None


def _current(product: dict[str, Any], index: int) -> int | None:
    """The current value of a csv type; None when there is none (-1, -2, missing).

    For the shipping-inclusive types it is the landed price, as in ``stats.current``."""
    current = (product.get("stats") or {}).get("current")
    value: int | None = None
    if isinstance(current, list) and index < len(current) and current[index] is not None:
        value = int(current[index])
    elif (series := _series(product, index)) is not None:
        if index not in _TRIPLE_TYPES:
            value = int(series[-1])
        elif (price := int(series[-2])) >= 0:
            value = price + max(0, int(series[-1]))
    return value if value is not None and value >= 0 else None


def _last_parts(product: dict[str, Any], index: int, currency: str) -> tuple[Money, Money] | None:
    """The price and shipping of a shipping-inclusive type's latest triple, if it has a price."""
    series = _series(product, index)
    if series is None or len(series) < 3 or int(series[-2]) < 0:
        return None
    return Money.from_minor_units(series[-2], currency), Money.from_minor_units(
        max(0, int(series[-1])), currency
    )


def _money(units: int | None, currency: str) -> Money | None:
    return Money.from_minor_units(units, currency) if units is not None and units >= 0 else None


def _listing(units: int | None, currency: str) -> Price | None:
    """A type's price that does not include shipping (AMAZON, USED)."""
    money = _money(units, currency)
    return Price(money, LISTING, money, None) if money is not None else None


def _landed(product: dict[str, Any], index: int, currency: str) -> Price | None:
    """A shipping-inclusive type's current landed price, with its parts when the history has them."""
    total = _money(_current(product, index), currency)
    if total is None:
        return None
    parts = _last_parts(product, index, currency)
    if parts is not None and parts[0] + parts[1] == total:
        return Price(total, LANDED, *parts)
    return Price(total, LANDED)


def _lowest_new(product: dict[str, Any], currency: str) -> Price | None:
    """NEW: landed when Keepa collected it on or after 2026-02-16, the item's price before.

    Collected: at the product's ``lastUpdate``, else (none given) at the history's last change."""
    total = _money(_current(product, CsvType.NEW), currency)
    if total is None:
        return None
    series = _series(product, CsvType.NEW)
    collected = product.get("lastUpdate")
    if collected is None and series is not None and len(series) >= 2:
        collected = series[-2]
    if collected is not None and keepa_time(int(collected)) < NEW_INCLUDES_SHIPPING_SINCE:
        return Price(total, LISTING, total, None)
    return Price(total, LANDED)


def _lowest_used(product: dict[str, Any], currency: str) -> Price | None:
    """The lowest landed used-by-condition price; USED (no shipping) when Keepa has none of those."""
    landed = [price for index in _USED_BY_CONDITION if (price := _landed(product, index, currency))]
    if landed:
        return min(landed, key=lambda price: price.total.amount)
    return _listing(_current(product, CsvType.USED), currency)


def _history(product: dict[str, Any], currency: str, exponent: int) -> tuple[History, ...]:
    histories = []
    for metric, index, kind, basis in HISTORY_SERIES:
        series = _series(product, index)
        if series is None:
            continue
        step = 3 if index in _TRIPLE_TYPES else 2
        points = []
        for i in range(0, len(series) - step + 1, step):
            raw = int(series[i + 1])
            if step == 3 and raw >= 0:
                raw += max(0, int(series[i + 2]))
            value: Decimal | int | float | None
            if raw < 0:
                value = None
            elif kind == "price":
                value = Decimal(raw).scaleb(-exponent)
            elif kind == "rating":
                value = raw / 10
            else:
                value = raw
            points.append(HistoryPoint(keepa_time(series[i]), value))
        histories.append(
            History(
                metric,
                kind,
                tuple(points),
                currency=currency if kind == "price" else None,
                basis=basis,
                landed_since=NEW_INCLUDES_SHIPPING_SINCE if index == CsvType.NEW else None,
            )
        )
    return tuple(histories)


def _sales_ranks(product: dict[str, Any]) -> tuple[SalesRank, ...]:
    names = {str(c["catId"]): c.get("name") for c in product.get("categoryTree") or ()}
    ranks = []
    for category_id, series in (product.get("salesRanks") or {}).items():
        if isinstance(series, list) and len(series) >= 2 and int(series[-1]) >= 0:
            ranks.append(SalesRank(int(series[-1]), str(category_id), names.get(str(category_id))))
    reference = product.get("salesRankReference")
    if reference is None or int(reference) < 0:
        reference = product.get("rootCategory")
    main_id = str(reference) if reference is not None else None
    ranks.sort(key=lambda rank: rank.category_id != main_id)
    if (not ranks or ranks[0].category_id != main_id) and (rank := _current(product, CsvType.SALES)):
        # No per-category history for the main category: the SALES type is its rank.
        ranks.insert(0, SalesRank(rank, main_id, names.get(main_id) if main_id else None))
    return tuple(ranks)


def _buy_box(product: dict[str, Any], currency: str) -> BuyBox | None:
    stats = product.get("stats") or {}
    price = stats.get("buyBoxPrice")
    if price is not None and int(price) >= 0:
        shipping = stats.get("buyBoxShipping")
        return BuyBox(
            price=Money.from_minor_units(price, currency),
            shipping=_money(int(shipping), currency) if shipping is not None else None,
            seller_id=stats.get("buyBoxSellerId") or None,
            is_fba=stats.get("buyBoxIsFBA"),
        )
    # Without live offers Keepa has no buy box statistics, only its history (buybox=1).
    series = _series(product, CsvType.BUY_BOX_SHIPPING)
    if series is not None and len(series) >= 3 and int(series[-2]) >= 0:
        return BuyBox(
            price=Money.from_minor_units(series[-2], currency),
            shipping=_money(int(series[-1]), currency),
        )
    return None


def _dimensions(product: dict[str, Any], prefix: str) -> Dimensions | None:
    def measure(name: str, unit: str) -> Measurement | None:
        value = product.get(f"{prefix}{name}")
        # Keepa uses 0 (and -1) for "unknown".
        return Measurement(Decimal(int(value)), unit) if value is not None and int(value) > 0 else None

    dimensions = Dimensions(
        length=measure("Length", "mm"),
        width=measure("Width", "mm"),
        height=measure("Height", "mm"),
        weight=measure("Weight", "g"),
    )
    return None if dimensions.is_empty() else dimensions


def _images(product: dict[str, Any]) -> tuple[str, ...]:
    """The ``images`` array's large files (medium where there is no large), else ``imagesCSV``'s."""
    names: list[str] = []
    for image in product.get("images") or ():
        if isinstance(image, dict) and (name := str(image.get("l") or image.get("m") or "").strip()):
            names.append(name)
    if not names:
        names = [name.strip() for name in (product.get("imagesCSV") or "").split(",") if name.strip()]
    return tuple(IMAGE_BASE_URL + name for name in dict.fromkeys(names))


def _keepa_time_or_none(value: Any) -> datetime | None:
    return keepa_time(int(value)) if value is not None and int(value) > 0 else None


def _sales_velocity(product: dict[str, Any], fetched_at: datetime) -> SalesVelocity:
    """Keepa's ``monthlySold`` and ``stats.salesRankDrops*``, as Keepa gives them."""
    sold = product.get("monthlySold")
    monthly_sold = int(sold) if sold is not None and int(sold) > 0 else None
    stats = product.get("stats") or {}
    drops = tuple(
        (days, int(count))
        for days in RANK_DROP_DAYS
        if (count := stats.get(f"salesRankDrops{days}")) is not None and int(count) >= 0
    )
    return SalesVelocity(
        source=KeepaProvider.name,
        monthly_sold=monthly_sold,
        monthly_sold_as_of=_keepa_time_or_none(product.get("lastSoldUpdate")) if monthly_sold else None,
        rank_drops=drops,
        # Keepa computes the statistics at request time over its data as of its last update.
        rank_drops_as_of=(_keepa_time_or_none(product.get("lastUpdate")) or fetched_at) if drops else None,
    )


def _is_unknown(product: dict[str, Any]) -> bool:
    return (
        not product.get("title")
        and not product.get("csv")
        and not product.get("images")
        and not product.get("imagesCSV")
    )


def decode_product(
    product: dict[str, Any], marketplace: Marketplace, *, fetched_at: datetime
) -> ProductRecord | None:
    """One Keepa product object as a record; None for Keepa's stub of an unknown ASIN."""
    if _is_unknown(product):
        return None
    currency = marketplace.currency
    buy_box = _buy_box(product, currency)
    counts = [_current(product, index) for index in _OFFER_COUNT_TYPES]
    known_counts = [count for count in counts if count is not None]
    rating = _current(product, CsvType.RATING)
    sales_ranks = _sales_ranks(product)
    return ProductRecord(
        asin=str(product["asin"]),
        marketplace=marketplace.code,
        provider=KeepaProvider.name,
        fetched_at=fetched_at,
        title=product.get("title") or None,
        brand=product.get("brand") or None,
        manufacturer=product.get("manufacturer") or None,
        images=_images(product),
        categories=tuple(
            Category(str(c["catId"]), str(c["name"])) for c in product.get("categoryTree") or ()
        ),
        sales_rank=sales_ranks[0] if sales_ranks else None,
        sales_ranks=sales_ranks,
        list_price=_money(_current(product, CsvType.LIST_PRICE), currency),
        **record_prices(
            buy_box=buy_box,
            amazon=_listing(_current(product, CsvType.AMAZON), currency),
            lowest_new=_lowest_new(product, currency),
            lowest_used=_lowest_used(product, currency),
        ),
        offers=OfferCounts(new=counts[0], used=counts[1], total=sum(known_counts) if known_counts else None),
        rating=rating / 10 if rating is not None else None,
        review_count=_current(product, CsvType.COUNT_REVIEWS),
        item_dimensions=_dimensions(product, "item"),
        package_dimensions=_dimensions(product, "package"),
        eans=tuple(str(ean) for ean in product.get("eanList") or ()),
        upcs=tuple(str(upc) for upc in product.get("upcList") or ()),
        parent_asin=product.get("parentAsin") or None,
        history=_history(product, currency, marketplace.currency_exponent),
        sales_velocity=_sales_velocity(product, fetched_at),
    )


# --- Keepa's token bucket, as last reported ----------------------------------------------------


class TokenState:
    """Keepa's ``tokensLeft`` / ``refillIn`` / ``refillRate`` from the latest answer, in Redis."""

    def __init__(self, api_key: str) -> None:
        # One state per account; the key itself never reaches Redis.
        account = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        self.key = shared_key("keepa", "tokens", account)

    def observe(self, body: Any, *, refused: bool = False) -> float | None:
        """Record the token fields of an answer; return the seconds until tokens are available.

        ``refused``: the answer was a 429, so whatever ``tokensLeft`` says, this
        request did not fit and nobody should try before the next refill.
        """
        if not isinstance(body, dict) or "tokensLeft" not in body or "refillIn" not in body:
            return None
        try:
            tokens_left = int(body["tokensLeft"])
            refill_in = max(0.0, float(body["refillIn"]) / 1000)
            refill_rate = max(0.0, float(body.get("refillRate") or 0))
        except (TypeError, ValueError):
            return None
        if refused:
            tokens_left = min(tokens_left, 0)
        refill_at = time.time() + refill_in
        wait = self._wait(tokens_left, refill_at, refill_rate, now=time.time())
        try:
            pipe = redis_client().pipeline()
            pipe.hset(
                self.key,
                mapping={
                    "tokens_left": tokens_left,
                    "refill_at": f"{refill_at:.3f}",
                    "refill_rate": refill_rate,
                },
            )
            pipe.pexpire(self.key, int((max(wait, refill_in) + 60) * 1000))
            pipe.execute()
        except RedisError:
            # Only an optimisation over Keepa's own 429s; the shared rate limit still applies.
            logger.warning("keepa: token state not saved (Redis unavailable)")
        return wait

    def wait_seconds(self) -> float:
        """Seconds until Keepa will have tokens again, by the last answer (0: go ahead)."""
        try:
            state = redis_client().hgetall(self.key)
        except RedisError:
            logger.warning("keepa: token state unknown (Redis unavailable)")
            return 0.0
        if not state:
            return 0.0
        return self._wait(
            int(state[b"tokens_left"]),
            float(state[b"refill_at"]),
            float(state[b"refill_rate"]),
            now=time.time(),
        )

    @staticmethod
    def _wait(tokens_left: int, refill_at: float, refill_rate: float, *, now: float) -> float:
        if tokens_left > 0:
            return 0.0
        # A bucket in debt needs more than one minute's refill to get back above zero.
        extra_refills = math.floor(-tokens_left / refill_rate) if refill_rate > 0 else 0
        return max(0.0, refill_at - now + 60 * extra_refills)


# --- The provider ------------------------------------------------------------------------------


class KeepaProvider(Provider):
    name = "keepa"
    label = "Keepa"
    # No keyword search: Keepa's product search is not in the reference this adapter
    # follows (../shared/reference/keepa/), so conversions fall back to the next provider.
    supports_search = False

    def __init__(self) -> None:
        self.settings = conf.keepa_settings()
        self.client = UpstreamClient(self.name, self.label)

    @property
    def max_batch_size(self) -> int:
        # A batch takes one token per ASIN from the shared bucket, which must be able to hold it.
        return max(1, min(MAX_ASINS_PER_REQUEST, int(conf.rate_limit("keepa").burst)))

    def is_configured(self) -> bool:
        return bool(self.settings.api_key)

    def supports(self, marketplace: Marketplace) -> bool:
        return marketplace.keepa_domain is not None

    def _fetch_batch(self, asins: list[str], marketplace: Marketplace) -> dict[str, ProductRecord | None]:
        body = self._product_request(
            marketplace, {"asin": ",".join(asins)}, operation="product", tokens=len(asins)
        )
        fetched_at = timezone.now()
        with decoding(self.name, "product"):
            products = body["products"]
            if not isinstance(products, list):
                raise TypeError("products is not a list")
            by_asin = {str(p["asin"]).upper(): p for p in products if isinstance(p, dict)}
            keepa_fee_inputs_keep(
                [p for asin, p in by_asin.items() if asin in asins and not _is_unknown(p)],
                marketplace,
                fetched_at=fetched_at,
            )
            return {
                asin: decode_product(by_asin[asin], marketplace, fetched_at=fetched_at)
                if asin in by_asin
                else None
                for asin in asins
            }

    # Keepa's ``code`` parameter takes UPC, EAN and ISBN-13 codes: an ISBN-10 goes as its ISBN-13.
    supports_code_search = True
    code_search_complete = True

    def _search_by_code(self, code: ProductCode, marketplace: Marketplace) -> list[ProductRecord]:
        wire_code = code.gtin if code.type == "isbn10" else code.value
        # One token taken up front; Keepa charges one per product found, which the
        # token state it reports (tokensLeft) accounts for before the next call.
        body = self._product_request(marketplace, {"code": wire_code}, operation="product_code", tokens=1)
        fetched_at = timezone.now()
        with decoding(self.name, "product code"):
            products = body.get("products") or []
            if not isinstance(products, list):
                raise TypeError("products is not a list")
            records = (
                decode_product(p, marketplace, fetched_at=fetched_at) for p in products if isinstance(p, dict)
            )
            return [record for record in records if record is not None]

    def _product_request(
        self,
        marketplace: Marketplace,
        selector: dict[str, str],
        *,
        operation: str,
        tokens: int,
        options: dict[str, str] | None = None,
    ) -> Any:
        """Keepa's answer to a product request for ``selector`` (``asin`` or ``code``), with the
        options every record is decoded from (or ``options``: the fee estimates ask for less);
        its token state observed."""
        state = TokenState(self.settings.api_key)
        self._wait_for_tokens(state)

        def retry_hint(response: requests.Response) -> float | None:
            if response.status_code == 200:
                return None
            try:
                body = response.json()
            except ValueError:
                return None
            refused = response.status_code == 429
            wait = state.observe(body, refused=refused)
            # Only a 429 is about tokens; other failures keep the usual backoff.
            return wait if refused else None

        response = self.client.request(
            "GET",
            f"{self.settings.base_url}/product",
            operation=operation,
            rate_bucket="keepa",
            tokens=tokens,
            params={
                "key": self.settings.api_key,
                "domain": str(marketplace.keepa_domain),
                **selector,
                **(
                    options
                    if options is not None
                    else {"stats": str(self.settings.stats_days), "buybox": "1", "rating": "1"}
                ),
            },
            retry_hint=retry_hint,
        )
        if response.status_code != 200:
            self._refused(response)
        body = json_body(response, provider=self.name, what=operation)
        state.observe(body)
        return body

    def _wait_for_tokens(self, tokens: TokenState) -> None:
        wait = tokens.wait_seconds()
        if wait <= 0:
            return
        if wait > conf.rate_limit_max_wait():
            raise RateLimited(
                f"Keepa's token bucket is empty; try again in {wait:.0f}s.",
                provider=self.name,
                retry_after=wait,
                extra={"reason": "out_of_tokens"},
            )
        logger.info("keepa: token bucket empty, waiting %.1fs for the refill", wait)
        time.sleep(wait)

    def _refused(self, response: requests.Response) -> None:
        reason = _HTTP_REFUSALS.get(response.status_code, "unexpected answer")
        detail = None
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                detail = body["error"].get("message") or body["error"].get("type")
        except ValueError:
            pass
        raise UpstreamBadResponse(
            f"Keepa refused the request: HTTP {response.status_code}, {reason}.",
            provider=self.name,
            extra={"status": response.status_code, "upstream_message": detail},
        )


# --- Fee inputs kept from product answers ------------------------------------------------------------

# The fields of a Keepa product object that its FBA fees are computed from (products/providers/fees.py
# ``decode_keepa_fees``). A product request answers them with the rest of the product, so they are
# kept for as long as the product data is fresh (``PRODUCT_CACHE_SECONDS``), and fees for a product
# just looked up (a manifest line, a bulk row with profit) cost no second token.
FEE_INPUT_FIELDS = ("fbaFees", "referralFeePercentage", "referralFeePercent")
_FEE_INPUTS_VERSION = 1


def _fee_inputs_key(marketplace: Marketplace, asin: str) -> str:
    return f"keepa:fee-inputs:v{_FEE_INPUTS_VERSION}:{marketplace.code}:{asin}"


def keepa_fee_inputs_keep(
    products: list[dict[str, Any]], marketplace: Marketplace, *, fetched_at: datetime
) -> None:
    """Keep the fee fields of Keepa product objects (with when they were fetched)."""
    entries = {
        _fee_inputs_key(marketplace, str(product["asin"]).upper()): {
            "asin": str(product["asin"]).upper(),
            "fetched_at": fetched_at.isoformat(),
            **{name: product[name] for name in FEE_INPUT_FIELDS if name in product},
        }
        for product in products
    }
    if not entries:
        return
    try:
        cache.set_many(entries, timeout=conf.lookup_settings().cache_seconds)
    except Exception:  # an optimisation: without it, fees take their own request
        logger.warning("keepa: fee inputs not kept", exc_info=True)


def keepa_fee_inputs_get(asins: list[str], marketplace: Marketplace) -> dict[str, dict[str, Any]]:
    """The fee fields kept for those of ``asins`` a product request answered lately, by ASIN."""
    keys = {_fee_inputs_key(marketplace, asin): asin for asin in asins}
    try:
        found = cache.get_many(list(keys))
    except Exception:
        logger.warning("keepa: fee inputs unavailable", exc_info=True)
        return {}
    return {keys[key]: value for key, value in found.items() if isinstance(value, dict)}
