"""Amazon Selling Partner API, as in ../shared/reference/sp-api/.

Per ASIN, two operations, each under its documented usage plan (shared rate
limit buckets ``spapi.catalog`` and ``spapi.pricing``):

- Catalog Items 2022-04-01 ``getCatalogItem`` (2 requests/s, burst 2):
  summaries, images, classifications, sales ranks, dimensions, identifiers,
  relationships and attributes. A 404 means Amazon does not know the ASIN.
- Product Pricing v0 ``getItemOffers`` (0.5 requests/s, burst 1), new
  condition, consumer offers: the buy box, lowest prices and offer counts.
  (The 2022-05-01 ``getCompetitiveSummary`` batch has the same data at 0.033
  requests/s, too slow for interactive lookups.) A 404 means no offers.
  Prices are landed (``ListingPrice`` + ``Shipping``, or ``LandedPrice``
  where a summary gives no shipping), both parts kept in ``price_parts``;
  ``Summary.ListPrice`` of 0 or less (seen in SE and PL answers) is no list price.

Keyword search (``search``, the FNSKU conversion's fallback): Catalog Items
2022-04-01 ``searchCatalogItems`` with ``keywords``, summaries and images only
(2 requests/s, burst 2, like getCatalogItem; both take the ``spapi.catalog``
bucket, which keeps the two together within either operation's plan).

Lookup by barcode (``search_by_code``): ``searchCatalogItems`` with
``identifiers`` and ``identifiersType`` (EAN, UPC or ISBN) and the same
datasets as getCatalogItem, under the same ``spapi.catalog`` bucket. Its items
have no offers, so these records are partial (``code_search_complete`` false):
a lookup of the ASIN gets the prices.

Authentication: Login with Amazon exchanges the refresh token for an access
token, cached (in the shared cache) until shortly before it expires; a 403
with a cached token refreshes it once. SP-API has no ratings or histories, and no
sales figure: every record's ``sales_velocity`` says "not available from SP-API"
(``NO_SALES_DATA``), never an estimate.

Why one module of this length: it is SP-API's whole wire format for product data (the
two catalog operations, the pricing operation, Login with Amazon and the decoding of each
answer into a ``ProductRecord``), behind the one provider interface; the FBA inventory
operation, which serves another purpose, is its own module (fba_inventory.py).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from django.core.cache import cache
from django.utils import timezone

from products import conf
from products.conf import SpApiSettings
from products.marketplaces import Marketplace
from products.providers.base import (
    BuyBox,
    Category,
    Dimensions,
    Measurement,
    Money,
    OfferCounts,
    Price,
    ProductRecord,
    Provider,
    SalesRank,
    SalesVelocity,
    UpstreamBadResponse,
    decoding,
    record_prices,
)
from products.providers.http import UpstreamClient, json_body
from products.validation import ProductCode

logger = logging.getLogger(__name__)

CATALOG_PATH = "/catalog/2022-04-01/items/{asin}"
ITEM_OFFERS_PATH = "/products/pricing/v0/items/{asin}/offers"
SEARCH_PATH = "/catalog/2022-04-01/items"
SEARCH_INCLUDED_DATA = ("summaries", "images")
# searchCatalogItems returns at most 20 items a page.
SEARCH_MAX_PAGE_SIZE = 20
SEARCH_MAX_KEYWORDS = 20
CATALOG_INCLUDED_DATA = (
    "attributes",
    "classifications",
    "dimensions",
    "identifiers",
    "images",
    "relationships",
    "salesRanks",
    "summaries",
)
# searchCatalogItems' identifiersType for each kind of barcode. An ISBN-13 is the
# book's EAN, and Amazon's catalogue lists it as such (its ISBN is the ISBN-10).
CODE_IDENTIFIER_TYPES = {"ean13": "EAN", "ean8": "EAN", "upc": "UPC", "isbn10": "ISBN", "isbn13": "EAN"}
# An access token is used at most until this many seconds before it expires.
LWA_EXPIRY_MARGIN_SECONDS = 60
# Neither the Catalog Items nor the Product Pricing API reports units sold.
NO_SALES_DATA = "not available from SP-API"

_UNITS = {
    "inches": "in",
    "centimeters": "cm",
    "millimeters": "mm",
    "meters": "m",
    "pounds": "lb",
    "ounces": "oz",
    "kilograms": "kg",
    "grams": "g",
}


# --- Login with Amazon --------------------------------------------------------------------------


def _token_cache_key(settings: SpApiSettings) -> str:
    account = hashlib.sha256(f"{settings.client_id}:{settings.refresh_token}".encode()).hexdigest()[:16]
    return f"spapi:lwa:{account}"


def lwa_access_token(settings: SpApiSettings, client: UpstreamClient, *, refresh: bool = False) -> str:
    """An SP-API access token: the cached one, or a new one from Login with Amazon."""
    key = _token_cache_key(settings)
    if not refresh:
        try:
            token = cache.get(key)
        except Exception:  # the cache is an optimisation: without it, ask Login with Amazon
            logger.warning("spapi: access token cache unavailable", exc_info=True)
            token = None
        if token:
            return str(token)
    response = client.request(
        "POST",
        settings.lwa_token_url,
        operation="lwa_token",
        rate_bucket=None,
        data={
            "grant_type": "refresh_token",
            "refresh_token": settings.refresh_token,
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        },
    )
    body = json_body(response, provider=SpApiProvider.name, what="access token")
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        error = body.get("error") if isinstance(body, dict) else None
        raise UpstreamBadResponse(
            "Login with Amazon refused the SP-API credentials "
            f"(HTTP {response.status_code}, {error or 'no token'}).",
            provider=SpApiProvider.name,
            extra={"status": response.status_code, "upstream_error": error},
        )
    token = str(body["access_token"])
    lifetime = int(body.get("expires_in") or 3600) - LWA_EXPIRY_MARGIN_SECONDS
    if lifetime > 0:
        try:
            cache.set(key, token, timeout=lifetime)
        except Exception:
            logger.warning("spapi: access token not cached", exc_info=True)
    return token


# --- Decoding ------------------------------------------------------------------------------------


def _for_marketplace(entries: Any, marketplace_id: str) -> dict[str, Any] | None:
    """The entry of a per-marketplace list that belongs to ``marketplace_id``."""
    if not entries:
        return None
    for entry in entries:
        if entry.get("marketplaceId") == marketplace_id:
            return dict(entry)
    return None


def _attribute(attributes: dict[str, Any], name: str, marketplace_id: str) -> Any:
    values = attributes.get(name) or []
    for value in values:
        if value.get("marketplace_id") in (marketplace_id, None):
            return value
    return None


def _measurement(data: Any) -> Measurement | None:
    if not data or data.get("value") is None:
        return None
    unit = str(data.get("unit") or "")
    return Measurement(Decimal(str(data["value"])), _UNITS.get(unit, unit))


def _dimensions(data: Any) -> Dimensions | None:
    if not data:
        return None
    dimensions = Dimensions(
        length=_measurement(data.get("length")),
        width=_measurement(data.get("width")),
        height=_measurement(data.get("height")),
        weight=_measurement(data.get("weight")),
    )
    return None if dimensions.is_empty() else dimensions


def _images(entry: dict[str, Any] | None) -> tuple[str, ...]:
    """The largest image of each variant, MAIN first, in Amazon's order."""
    best: dict[str, dict[str, Any]] = {}
    for image in (entry or {}).get("images") or ():
        variant = image.get("variant") or ""
        size = int(image.get("height") or 0) * int(image.get("width") or 0)
        if variant not in best or size > int(best[variant].get("height") or 0) * int(
            best[variant].get("width") or 0
        ):
            best[variant] = image
    variants = sorted(best, key=lambda variant: variant != "MAIN")
    return tuple(str(best[variant]["link"]) for variant in variants if best[variant].get("link"))


def _categories(entry: dict[str, Any] | None, browse: dict[str, Any] | None) -> tuple[Category, ...]:
    """The browse classification's path, root first."""
    classifications = (entry or {}).get("classifications") or []
    if not classifications:
        return ()
    wanted = (browse or {}).get("classificationId")
    node = next((c for c in classifications if c.get("classificationId") == wanted), classifications[0])
    path = []
    while node:
        path.append(Category(str(node["classificationId"]), str(node["displayName"])))
        node = node.get("parent")
    return tuple(reversed(path))


def _sales_ranks(entry: dict[str, Any] | None) -> tuple[SalesRank, ...]:
    """The website display group's rank (the main one) first, then the classification ranks."""
    entry = entry or {}
    ranks = [
        SalesRank(int(r["rank"]), r.get("websiteDisplayGroup"), r.get("title"))
        for r in entry.get("displayGroupRanks") or ()
    ]
    ranks += [
        SalesRank(int(r["rank"]), r.get("classificationId"), r.get("title"))
        for r in entry.get("classificationRanks") or ()
    ]
    return tuple(ranks)


def _identifiers(entry: dict[str, Any] | None, kind: str) -> tuple[str, ...]:
    return tuple(
        str(i["identifier"])
        for i in (entry or {}).get("identifiers") or ()
        if i.get("identifierType") == kind and i.get("identifier")
    )


def _parent_asin(entry: dict[str, Any] | None) -> str | None:
    for relationship in (entry or {}).get("relationships") or ():
        parents = relationship.get("parentAsins") or []
        if relationship.get("type") == "VARIATION" and parents:
            return str(parents[0])
    return None


def _money(data: Any) -> Money | None:
    if not data or data.get("Amount") is None or not data.get("CurrencyCode"):
        return None
    return Money.of(Decimal(str(data["Amount"])), str(data["CurrencyCode"]))


def _list_price(money: Money | None) -> Money | None:
    # Amazon answers a ListPrice of 0 (SE and PL marketplaces) for "no list price".
    return money if money is not None and money.amount > 0 else None


def _shipping(entry: dict[str, Any], listing: Money) -> Money | None:
    """An offer's or a summary entry's shipping: ``Shipping``, or what ``LandedPrice`` adds."""
    shipping = _money(entry.get("Shipping"))
    if shipping is None and (landed := _money(entry.get("LandedPrice"))) is not None:
        shipping = landed - listing
    return shipping


def _price(entry: dict[str, Any]) -> Price | None:
    """An offer's or a summary entry's landed price, with its parts."""
    listing = _money(entry.get("ListingPrice"))
    if listing is None:
        return None
    return Price.of_parts(listing, _shipping(entry, listing))


def _consumer(entry: dict[str, Any]) -> bool:
    # Quantity tiers and business prices are not what a shopper pays for one item.
    return entry.get("offerType") in (None, "B2C") and entry.get("quantityTier") is None


class _Pricing:
    def __init__(self, payload: dict[str, Any] | None) -> None:
        payload = payload or {}
        summary = payload.get("Summary") or {}
        offers = [o for o in payload.get("Offers") or () if _consumer(o)]
        self.buy_box = self._buy_box(summary, offers)
        self.lowest_new = self._lowest(summary, "new")
        self.lowest_used = self._lowest(summary, "used")
        self.list_price = _list_price(_money(summary.get("ListPrice")))
        counts: dict[str, int] = {}
        for count in summary.get("NumberOfOffers") or ():
            if count.get("OfferCount") is not None:
                condition = str(count.get("condition") or "").lower()
                counts[condition] = counts.get(condition, 0) + int(count["OfferCount"])
        total = summary.get("TotalOfferCount")
        self.offers = (
            OfferCounts(
                new=counts.get("new"),
                used=counts.get("used"),
                total=int(total) if total is not None else None,
            )
            if payload
            else None
        )

    @staticmethod
    def _buy_box(summary: dict[str, Any], offers: list[dict[str, Any]]) -> BuyBox | None:
        winner = next((o for o in offers if o.get("IsBuyBoxWinner")), None)
        if winner is not None and (price := _money(winner.get("ListingPrice"))) is not None:
            return BuyBox(
                price=price,
                shipping=_shipping(winner, price),
                seller_id=winner.get("SellerId"),
                is_fba=winner.get("IsFulfilledByAmazon"),
            )
        for entry in summary.get("BuyBoxPrices") or ():
            if str(entry.get("condition", "")).lower() == "new" and _consumer(entry):
                price = _money(entry.get("ListingPrice"))
                if price is not None:
                    return BuyBox(
                        price=price, shipping=_shipping(entry, price), seller_id=entry.get("sellerId")
                    )
        return None

    @staticmethod
    def _lowest(summary: dict[str, Any], condition: str) -> Price | None:
        """The lowest landed price of ``condition`` among the summary's entries (one per
        fulfilment channel): a cheap item with dear shipping is not the lowest."""
        prices = [
            price
            for entry in summary.get("LowestPrices") or ()
            if str(entry.get("condition", "")).lower() == condition and _consumer(entry)
            if (price := _price(entry)) is not None
        ]
        return min(prices, key=lambda price: price.total.amount) if prices else None


def decode_item(
    item: dict[str, Any],
    offers: dict[str, Any] | None,
    marketplace: Marketplace,
    *,
    fetched_at: datetime,
) -> ProductRecord:
    """A getCatalogItem ``Item`` and a getItemOffers ``payload`` (None: no offers) as one record."""
    marketplace_id = marketplace.marketplace_id
    summary = _for_marketplace(item.get("summaries"), marketplace_id) or {}
    attributes = item.get("attributes") or {}

    def attribute_value(name: str) -> str | None:
        value = _attribute(attributes, name, marketplace_id)
        return str(value["value"]) if value and value.get("value") is not None else None

    pricing = _Pricing(offers)
    list_price = pricing.list_price
    attr = _attribute(attributes, "list_price", marketplace_id)
    if list_price is None and attr and attr.get("value") is not None and attr.get("currency"):
        list_price = _list_price(Money.of(Decimal(str(attr["value"])), str(attr["currency"])))
    dimensions = _for_marketplace(item.get("dimensions"), marketplace_id) or {}
    identifiers = _for_marketplace(item.get("identifiers"), marketplace_id)
    sales_ranks = _sales_ranks(_for_marketplace(item.get("salesRanks"), marketplace_id))
    return ProductRecord(
        asin=str(item["asin"]),
        marketplace=marketplace.code,
        provider=SpApiProvider.name,
        fetched_at=fetched_at,
        title=summary.get("itemName") or attribute_value("item_name"),
        brand=summary.get("brand") or attribute_value("brand"),
        manufacturer=summary.get("manufacturer") or attribute_value("manufacturer"),
        images=_images(_for_marketplace(item.get("images"), marketplace_id)),
        categories=_categories(
            _for_marketplace(item.get("classifications"), marketplace_id), summary.get("browseClassification")
        ),
        sales_rank=sales_ranks[0] if sales_ranks else None,
        sales_ranks=sales_ranks,
        list_price=list_price,
        **record_prices(
            buy_box=pricing.buy_box, lowest_new=pricing.lowest_new, lowest_used=pricing.lowest_used
        ),
        offers=pricing.offers,
        item_dimensions=_dimensions(dimensions.get("item")),
        package_dimensions=_dimensions(dimensions.get("package")),
        eans=_identifiers(identifiers, "EAN"),
        upcs=_identifiers(identifiers, "UPC"),
        parent_asin=_parent_asin(_for_marketplace(item.get("relationships"), marketplace_id)),
        sales_velocity=SalesVelocity(source=SpApiProvider.name, unavailable=NO_SALES_DATA),
    )


# --- The provider ------------------------------------------------------------------------------


class SpApiProvider(Provider):
    name = "spapi"
    label = "Amazon SP-API"

    def __init__(self) -> None:
        self.settings = conf.spapi_settings()
        self.client = UpstreamClient(self.name, self.label)

    def is_configured(self) -> bool:
        return self.settings.configured

    def _fetch_batch(self, asins: list[str], marketplace: Marketplace) -> dict[str, ProductRecord | None]:
        return {asin: self._fetch(asin, marketplace) for asin in asins}

    def _fetch(self, asin: str, marketplace: Marketplace) -> ProductRecord | None:
        endpoint = self.settings.endpoint or marketplace.spapi_endpoint
        item = self._get(
            endpoint + CATALOG_PATH.format(asin=asin),
            params={
                "marketplaceIds": marketplace.marketplace_id,
                "includedData": ",".join(CATALOG_INCLUDED_DATA),
            },
            operation="catalog",
            rate_bucket="spapi.catalog",
        )
        if item is None:
            return None
        offers = self._get(
            endpoint + ITEM_OFFERS_PATH.format(asin=asin),
            params={
                "MarketplaceId": marketplace.marketplace_id,
                "ItemCondition": "New",
                "CustomerType": "Consumer",
            },
            operation="pricing",
            rate_bucket="spapi.pricing",
        )
        with decoding(self.name, "catalog item"):
            payload = offers.get("payload") if offers is not None else None
            return decode_item(item, payload, marketplace, fetched_at=timezone.now())

    supports_search = True

    def _search(self, keywords: str, marketplace: Marketplace, limit: int) -> list[ProductRecord]:
        endpoint = self.settings.endpoint or marketplace.spapi_endpoint
        # ``keywords`` is a comma-delimited list: commas inside a label would split words wrongly.
        words = keywords.replace(",", " ").split()[:SEARCH_MAX_KEYWORDS]
        body = self._get(
            endpoint + SEARCH_PATH,
            params={
                "marketplaceIds": marketplace.marketplace_id,
                "keywords": ",".join(words),
                "includedData": ",".join(SEARCH_INCLUDED_DATA),
                "pageSize": str(min(limit, SEARCH_MAX_PAGE_SIZE)),
            },
            operation="catalog_search",
            rate_bucket="spapi.catalog",
        )
        if body is None:
            return []
        fetched_at = timezone.now()
        with decoding(self.name, "catalog search"):
            return [
                decode_item(item, None, marketplace, fetched_at=fetched_at)
                for item in body.get("items") or ()
            ]

    supports_code_search = True
    code_search_complete = False

    def _search_by_code(self, code: ProductCode, marketplace: Marketplace) -> list[ProductRecord]:
        endpoint = self.settings.endpoint or marketplace.spapi_endpoint
        body = self._get(
            endpoint + SEARCH_PATH,
            params={
                "marketplaceIds": marketplace.marketplace_id,
                "identifiers": code.value,
                "identifiersType": CODE_IDENTIFIER_TYPES[code.type],
                "includedData": ",".join(CATALOG_INCLUDED_DATA),
            },
            operation="catalog_code_search",
            rate_bucket="spapi.catalog",
        )
        if body is None:
            return []
        fetched_at = timezone.now()
        with decoding(self.name, "catalog code search"):
            return [
                decode_item(item, None, marketplace, fetched_at=fetched_at)
                for item in body.get("items") or ()
            ]

    def _get(self, url: str, *, params: dict[str, str], operation: str, rate_bucket: str) -> Any | None:
        """The JSON answer; None for a 404."""
        response: requests.Response | None = None
        for refresh in (False, True):
            token = lwa_access_token(self.settings, self.client, refresh=refresh)
            response = self.client.request(
                "GET",
                url,
                operation=operation,
                rate_bucket=rate_bucket,
                params=params,
                headers={"x-amz-access-token": token, "Accept": "application/json"},
            )
            # A cached token can be revoked or expire early: renew it once.
            if response.status_code != 403:
                break
        assert response is not None
        if response.status_code == 404:
            return None
        body = json_body(response, provider=self.name, what=operation)
        if response.status_code != 200:
            errors = body.get("errors") if isinstance(body, dict) else None
            first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
            code = first.get("code")
            raise UpstreamBadResponse(
                f"Amazon SP-API refused the {operation} request (HTTP {response.status_code}"
                + (f", {code}" if code else "")
                + ").",
                provider=self.name,
                extra={
                    "status": response.status_code,
                    "operation": operation,
                    "upstream_code": first.get("code"),
                    "upstream_message": first.get("message"),
                },
            )
        if not isinstance(body, dict):
            raise UpstreamBadResponse(
                f"The Amazon SP-API {operation} answer was not an object.", provider=self.name
            )
        return body
