"""The sandbox provider: plausible, deterministic sample records that work offline.

The default provider, so the platform runs end to end with no upstream
account. Every valid ASIN gets a record built from a hash of the ASIN (the
same product in every marketplace) and of the marketplace (its prices, in the
marketplace's currency). Every record says ``sample_data: true``, its title
starts with ``[SAMPLE]`` and its images are drawn "SAMPLE" placards, so it is
never mistaken for Amazon data wherever it is shown. Its sales velocity (monthly
sold, sales rank drops) is made up in Keepa's shape, sample data like the rest.

It goes through the same shared rate limit (bucket ``sandbox``) and circuit
breaker as the real providers. ``SANDBOX_LATENCY_MS`` adds an upstream-like
delay to every answer.

Reserved ASINs simulate an upstream's failures (a batch containing one fails
as a whole, as an upstream outage would):

============  =============================================================
B000000404    not found: no record (``ProductNotFound`` from ``fetch_one``)
B000000429    upstream quota exhausted: ``UpstreamUnavailable``, retry after 60 s
B000000502    garbage answer: ``UpstreamBadResponse``
B000000503    upstream outage: ``UpstreamUnavailable``, retry after 30 s
============  =============================================================

These simulated failures are answered as the real ones would be, but they do
not count towards the sandbox's circuit breaker (``SimulatedUnavailable``,
``SimulatedBadResponse``): trying the documented failure ASINs must not pause
the sandbox for everyone else's lookups.

Keyword search (``search``, the FNSKU conversion's fallback) looks through a
fixed sample catalogue of ``CATALOGUE_SIZE`` ASINs drawn from a seed, whose
titles come from the same generator as their records, so look-alike products
(same brand and product, another colour or size) occur as they do on Amazon.
A reserved ASIN among the keywords simulates the same failure for a search.

Lookup by barcode (``search_by_code``) maps every valid code to one, two or
three made-up ASINs drawn from a hash of the code (its GTIN, so an ISBN-10 and
its ISBN-13 find the same products), with their full sample records; those
records carry the code among their EANs/UPCs. Reserved codes (both valid
EAN-13s) simulate an upstream's answers:

=============  ============================================================
0000000004046  not found: no product carries the code
0000000005036  upstream outage: ``UpstreamUnavailable``, retry after 30 s
=============  ============================================================
"""

from __future__ import annotations

import hashlib
import random
import re
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from urllib.parse import quote

from django.utils import timezone
from stdnum import ean

from products import conf
from products.marketplaces import Marketplace
from products.providers.base import (
    LANDED,
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
    SalesRank,
    SalesVelocity,
    UpstreamBadResponse,
    UpstreamUnavailable,
    record_prices,
)
from products.providers.http import take_rate_limit
from products.validation import ProductCode

NOT_FOUND_ASIN = "B000000404"
QUOTA_EXHAUSTED_ASIN = "B000000429"
BAD_RESPONSE_ASIN = "B000000502"
OUTAGE_ASIN = "B000000503"

RESERVED_ASINS = {
    NOT_FOUND_ASIN: "not found",
    QUOTA_EXHAUSTED_ASIN: "upstream quota exhausted (unavailable, retry after 60 s)",
    BAD_RESPONSE_ASIN: "garbage answer (bad response)",
    OUTAGE_ASIN: "upstream outage (unavailable, retry after 30 s)",
}

NOT_FOUND_CODE = "0000000004046"
OUTAGE_CODE = "0000000005036"

RESERVED_CODES = {
    NOT_FOUND_CODE: "not found",
    OUTAGE_CODE: "upstream outage (unavailable, retry after 30 s)",
}


class SimulatedUnavailable(UpstreamUnavailable):
    """A reserved ASIN's or code's simulated outage: not a failure of the sandbox, so its
    circuit breaker does not count it (a demo must not pause everyone's lookups)."""

    counts_as_failure = False


class SimulatedBadResponse(UpstreamBadResponse):
    """A reserved ASIN's simulated unreadable answer; not counted by the circuit breaker either."""

    counts_as_failure = False


HISTORY_DAYS = 30
# The steps of Amazon's "bought in past month" badge ("50+", "100+", ..., "1K+", "10K+").
_MONTHLY_SOLD_STEPS = (50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 2000, 3000, 5000, 10000, 20000)

# Rough prices of one US dollar, so sample prices look local. Sample data only.
_USD_RATES = {
    "USD": 1,
    "CAD": 1.35,
    "MXN": 17,
    "BRL": 5,
    "GBP": 0.8,
    "EUR": 0.92,
    "SEK": 10.5,
    "PLN": 4,
    "TRY": 32,
    "AED": 3.67,
    "SAR": 3.75,
    "EGP": 48,
    "ZAR": 18,
    "INR": 83,
    "JPY": 150,
    "AUD": 1.5,
    "SGD": 1.35,
}

# The words sample titles are made of (``[SAMPLE] <brand> <adjective> <product>, <variant>``):
# public, so the FNSKU evaluation set (conversion/evaluation/) can take titles apart and
# make look-alikes that are not in the catalogue.
BRANDS = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adventure Works", "Proseware")
ADJECTIVES = (
    "Compact",
    "Heavy-Duty",
    "Ergonomic",
    "Portable",
    "Premium",
    "Rechargeable",
    "Waterproof",
    "Adjustable",
    "Foldable",
    "Insulated",
)
VARIANTS = ("Black", "Blue", "Graphite", "2-Pack", "Large", "Small", "Olive Green", "White")
PRODUCTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Water Bottle", ("Home & Kitchen", "Kitchen & Dining", "Water Bottles")),
    ("Desk Lamp", ("Tools & Home Improvement", "Lighting & Ceiling Fans", "Desk Lamps")),
    ("Bluetooth Speaker", ("Electronics", "Portable Audio & Video", "Portable Speakers")),
    ("Yoga Mat", ("Sports & Outdoors", "Exercise & Fitness", "Yoga Mats")),
    ("Hiking Backpack", ("Sports & Outdoors", "Outdoor Recreation", "Backpacks")),
    ("Chef's Knife", ("Home & Kitchen", "Kitchen & Dining", "Chef's Knives")),
    ("Phone Stand", ("Cell Phones & Accessories", "Accessories", "Stands")),
    ("Notebook Set", ("Office Products", "Office & School Supplies", "Notebooks")),
    ("Dog Leash", ("Pet Supplies", "Dogs", "Leashes")),
    ("Hose Nozzle", ("Patio, Lawn & Garden", "Watering Equipment", "Hose Nozzles")),
)
_ASIN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _rng(*parts: str) -> random.Random:
    return random.Random(hashlib.sha256("|".join(parts).encode()).digest())  # noqa: S311 - sample data


def _category_id(name: str) -> str:
    return str(zlib.crc32(name.encode()))


def _identity(product: random.Random) -> tuple[str, tuple[str, ...], str]:
    """Brand, category path and title: the first draws of a product's generator."""
    brand = product.choice(BRANDS)
    noun, path = product.choice(PRODUCTS)
    title = f"[SAMPLE] {brand} {product.choice(ADJECTIVES)} {noun}, {product.choice(VARIANTS)}"
    return brand, path, title


def sample_title(asin: str) -> str:
    """The title of the sandbox's record for ``asin`` (in every marketplace)."""
    return _identity(_rng("product", asin))[2]


CATALOGUE_SIZE = 600
_WORD_RE = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


@lru_cache(maxsize=1)
def catalogue() -> tuple[tuple[str, str], ...]:
    """The sample catalogue that ``search`` looks through: ``(asin, title)`` pairs, fixed by a seed."""
    rng = _rng("catalogue")
    asins: dict[str, str] = {}
    while len(asins) < CATALOGUE_SIZE:
        asin = "B0" + "".join(rng.choice(_ASIN_CHARS) for _ in range(8))
        if asin not in RESERVED_ASINS:
            asins[asin] = sample_title(asin)
    return tuple(asins.items())


@lru_cache(maxsize=1)
def _catalogue_words() -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple((asin, frozenset(_words(title)) - {"sample"}) for asin, title in catalogue())


def catalogue_search(keywords: str, limit: int) -> list[str]:
    """ASINs of the catalogue whose titles share the most words with ``keywords``, best first.

    A keyword counts fully when a title has it, half when it is the start of a
    title's word (a label cut off mid-word); at least one whole word must match."""
    wanted = [word for word in dict.fromkeys(_words(keywords)) if word != "sample"]
    scored: list[tuple[float, str]] = []
    for asin, words in _catalogue_words():
        whole = sum(1 for word in wanted if word in words)
        if not whole:
            continue
        partial = sum(
            0.5
            for word in wanted
            if word not in words and len(word) >= 3 and any(w.startswith(word) for w in words)
        )
        scored.append((whole + partial, asin))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [asin for _, asin in scored[:limit]]


def code_asins(gtin: str) -> list[str]:
    """The sandbox's ASINs for a barcode: one, two or three, fixed by the code."""
    rng = _rng("code", gtin)
    count = rng.choice((1, 1, 1, 1, 1, 1, 2, 2, 2, 3))
    asins: list[str] = []
    while len(asins) < count:
        asin = "B0" + "".join(rng.choice(_ASIN_CHARS) for _ in range(8))
        if asin not in RESERVED_ASINS and asin not in asins:
            asins.append(asin)
    return asins


def _placard(asin: str, label: str, colour: str) -> str:
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='500' height='500'>"
        f"<rect width='500' height='500' fill='{colour}'/>"
        "<text x='250' y='230' font-family='sans-serif' font-size='64' text-anchor='middle' "
        "fill='white'>SAMPLE</text>"
        "<text x='250' y='300' font-family='sans-serif' font-size='32' text-anchor='middle' "
        f"fill='white'>{asin} {label}</text></svg>"
    )
    return "data:image/svg+xml," + quote(svg, safe="")


class SandboxProvider(Provider):
    name = "sandbox"
    label = "Sandbox"
    sample_data = True

    def __init__(self, clock: Callable[[], datetime] = timezone.now) -> None:
        self.clock = clock

    @property
    def max_batch_size(self) -> int:
        # One token per ASIN from the shared bucket, which must be able to hold a batch.
        return max(1, min(100, int(conf.rate_limit("sandbox").burst)))

    def _fetch_batch(self, asins: list[str], marketplace: Marketplace) -> dict[str, ProductRecord | None]:
        take_rate_limit(
            provider=self.name, label=self.label, bucket="sandbox", tokens=len(asins), operation="product"
        )
        latency = conf.sandbox_latency_seconds()
        if latency:
            time.sleep(latency)
        self._simulate_failures(asins)
        return {asin: None if asin == NOT_FOUND_ASIN else self._record(asin, marketplace) for asin in asins}

    supports_search = True

    def _search(self, keywords: str, marketplace: Marketplace, limit: int) -> list[ProductRecord]:
        take_rate_limit(provider=self.name, label=self.label, bucket="sandbox", tokens=1, operation="search")
        latency = conf.sandbox_latency_seconds()
        if latency:
            time.sleep(latency)
        self._simulate_failures(keywords.upper().split())
        return [self._record(asin, marketplace) for asin in catalogue_search(keywords, limit)]

    supports_code_search = True
    code_search_complete = True

    def _search_by_code(self, code: ProductCode, marketplace: Marketplace) -> list[ProductRecord]:
        take_rate_limit(provider=self.name, label=self.label, bucket="sandbox", tokens=1, operation="code")
        latency = conf.sandbox_latency_seconds()
        if latency:
            time.sleep(latency)
        if code.value == OUTAGE_CODE:
            raise SimulatedUnavailable(
                f"The sandbox simulates an upstream outage (reserved code {OUTAGE_CODE}).",
                provider=self.name,
                retry_after=30,
                extra={"reason": "simulated_outage"},
            )
        if code.value == NOT_FOUND_CODE:
            return []
        gtin = code.gtin
        upcs = (gtin[1:],) if len(gtin) == 13 and gtin.startswith("0") else ()
        return [
            replace(self._record(asin, marketplace), eans=(gtin,), upcs=upcs) for asin in code_asins(gtin)
        ]

    def _simulate_failures(self, asins: Iterable[str]) -> None:
        asins = set(asins)
        if OUTAGE_ASIN in asins:
            raise SimulatedUnavailable(
                f"The sandbox simulates an upstream outage (reserved ASIN {OUTAGE_ASIN}).",
                provider=self.name,
                retry_after=30,
                extra={"reason": "simulated_outage"},
            )
        if QUOTA_EXHAUSTED_ASIN in asins:
            raise SimulatedUnavailable(
                f"The sandbox simulates an exhausted upstream quota (reserved ASIN {QUOTA_EXHAUSTED_ASIN}).",
                provider=self.name,
                retry_after=60,
                extra={"reason": "simulated_quota_exhausted"},
            )
        if BAD_RESPONSE_ASIN in asins:
            raise SimulatedBadResponse(
                f"The sandbox simulates an unreadable upstream answer (reserved ASIN {BAD_RESPONSE_ASIN}).",
                provider=self.name,
                extra={"reason": "simulated_bad_response"},
            )

    def _record(self, asin: str, marketplace: Marketplace) -> ProductRecord:
        product = _rng("product", asin)
        market = _rng("market", asin, marketplace.code)
        currency = marketplace.currency

        brand, path, title = _identity(product)
        categories = tuple(Category(_category_id(name), name) for name in path)

        usd = Decimal(product.randrange(799, 14999)) / 100
        local = usd * Decimal(str(_USD_RATES.get(currency, 1))) * Decimal(market.randint(95, 105)) / 100

        def money(amount: Decimal) -> Money:
            return Money.of(amount, currency)

        is_fba = market.random() < 0.7
        amazon_sells = market.random() < 0.3
        buy_box_price = money(local)
        shipping = money(Decimal(0) if is_fba or amazon_sells else local * Decimal("0.08"))
        seller_id = "A0SAMPLE" + "".join(market.choice(_ASIN_CHARS) for _ in range(6))
        buy_box = BuyBox(price=buy_box_price, shipping=shipping, seller_id=seller_id, is_fba=is_fba)
        amazon = Price.of_buy_box(buy_box) if amazon_sells else None
        # Landed, like the real providers' lowest prices: the item plus the buy box's shipping.
        lowest_new = Price.of_parts(money(local * Decimal(market.randint(92, 100)) / 100), shipping)
        new_offers = market.randint(1, 25)
        used_offers = market.randint(0, 6)
        lowest_used = Price.of_parts(money(local * Decimal("0.78")), shipping) if used_offers else None

        root_rank = market.randint(50, 250_000)
        leaf_rank = max(1, root_rank // market.randint(20, 200))
        sales_ranks = (
            SalesRank(root_rank, categories[0].id, categories[0].name),
            SalesRank(leaf_rank, categories[-1].id, categories[-1].name),
        )

        length, width, height = (product.randint(40, 420) for _ in range(3))
        weight = product.randint(80, 3000)

        def dims(l: int, w: int, h: int, g: int) -> Dimensions:  # noqa: E741 - l, w, h, g read as such
            return Dimensions(
                length=Measurement(Decimal(l), "mm"),
                width=Measurement(Decimal(w), "mm"),
                height=Measurement(Decimal(h), "mm"),
                weight=Measurement(Decimal(g), "g"),
            )

        upc_body = "2" + "".join(str(product.randint(0, 9)) for _ in range(10))
        upc = upc_body + ean.calc_check_digit(upc_body)
        parent = None
        if product.random() < 0.35:
            parent = "B0" + "".join(_rng("parent", asin).choice(_ASIN_CHARS) for _ in range(8))

        fetched_at = self.clock()
        return ProductRecord(
            asin=asin,
            marketplace=marketplace.code,
            provider=self.name,
            fetched_at=fetched_at,
            sample_data=True,
            title=title,
            brand=brand,
            manufacturer=f"{brand} Sample Manufacturing",
            images=(
                _placard(asin, "main", "#5b6b7a"),
                _placard(asin, "side", "#7a6b5b"),
            ),
            categories=categories,
            sales_rank=sales_ranks[0],
            sales_ranks=sales_ranks,
            list_price=money(local * Decimal("1.25")),
            **record_prices(buy_box=buy_box, amazon=amazon, lowest_new=lowest_new, lowest_used=lowest_used),
            offers=OfferCounts(new=new_offers, used=used_offers, total=new_offers + used_offers),
            rating=market.randint(30, 49) / 10,
            review_count=market.randint(0, 25_000),
            item_dimensions=dims(length, width, height, weight),
            package_dimensions=dims(length + 12, width + 12, height + 12, weight + weight // 10),
            eans=("0" + upc,),
            upcs=(upc,),
            parent_asin=parent,
            history=self._history(asin, marketplace, buy_box.landed_price, root_rank, new_offers),
            sales_velocity=self._sales_velocity(asin, marketplace, fetched_at),
        )

    def _sales_velocity(self, asin: str, marketplace: Marketplace, fetched_at: datetime) -> SalesVelocity:
        """Made-up figures in Keepa's shape, from their own generator (the record's other values stay
        as they were): Amazon's "bought in past month" steps, absent for most products as on Amazon."""
        rng = _rng("sales", asin, marketplace.code)
        # Amazon updates the badge about daily: as of a midnight (UTC) a few days back.
        midnight = fetched_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        monthly_sold = rng.choice(_MONTHLY_SOLD_STEPS) if rng.random() < 0.4 else None
        drops_30 = rng.randint(0, 60)
        drops_90 = drops_30 + rng.randint(0, 120)
        drops_180 = drops_90 + rng.randint(0, 180)
        drops_365 = drops_180 + rng.randint(0, 360)
        return SalesVelocity(
            source=self.name,
            monthly_sold=monthly_sold,
            monthly_sold_as_of=midnight - timedelta(days=rng.randint(0, 3)) if monthly_sold else None,
            rank_drops=tuple(zip(RANK_DROP_DAYS, (drops_30, drops_90, drops_180, drops_365), strict=True)),
            rank_drops_as_of=fetched_at,
        )

    def _history(
        self, asin: str, marketplace: Marketplace, price: Money, rank: int, offers: int
    ) -> tuple[History, ...]:
        """Daily points up to today's midnight (UTC), ending at the current values."""
        rng = _rng("history", asin, marketplace.code)
        today = self.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        days = [today - timedelta(days=HISTORY_DAYS - 1 - i) for i in range(HISTORY_DAYS)]
        # Like Keepa's buy box history: landed prices (price plus shipping).
        prices = [Money.of(price.amount * Decimal(rng.randint(92, 108)) / 100, price.currency) for _ in days]
        ranks = [max(1, rank * rng.randint(70, 130) // 100) for _ in days]
        counts = [max(1, offers + rng.randint(-3, 3)) for _ in days]
        prices[-1], ranks[-1], counts[-1] = price, rank, offers
        return (
            History(
                "buy_box_landed_price",
                "price",
                tuple(HistoryPoint(d, p.amount) for d, p in zip(days, prices, strict=True)),
                currency=price.currency,
                basis=LANDED,
            ),
            History("sales_rank", "rank", tuple(map(HistoryPoint, days, ranks))),
            History("new_offer_count", "count", tuple(map(HistoryPoint, days, counts))),
        )
