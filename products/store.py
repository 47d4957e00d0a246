"""Where a product record comes from: the Redis cache, the database, or the upstream.

``product_record_bytes`` returns the record as JSON bytes, ready to send: the
hot path never rebuilds a record it already has. An upstream fetch is
single-flight per (ASIN, marketplace) across every process: one request takes
a Redis lock and calls the provider chain; the others wait for its result in
the cache (or its failure, left as a short-lived marker) instead of calling
the upstream themselves.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from django.db import transaction
from django.utils import timezone

from products import conf
from products.marketplaces import Marketplace
from products.models import Product, ProductSnapshot
from products.providers import (
    ProductNotFound,
    ProductRecord,
    ProviderError,
    UpstreamUnavailable,
    fetch_one_with_fallback,
)
from products.shared_state import LuaScript, redis_client, shared_key

CACHE = "cache"
DATABASE = "database"
UPSTREAM = "upstream"

_release_lock = LuaScript(
    """
    if redis.call("GET", KEYS[1]) == ARGV[1] then
        return redis.call("DEL", KEYS[1])
    end
    return 0
    """
)


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes
    source: str


def _keys(asin: str, marketplace: Marketplace) -> tuple[str, str, str]:
    base = f"{marketplace.code}:{asin}"
    return shared_key("product", base), shared_key("product-failed", base), shared_key("product-lock", base)


def _raise_failure(marker: bytes, asin: str) -> None:
    failure = json.loads(marker)
    error_class = ProductNotFound if failure["code"] == ProductNotFound.code else UpstreamUnavailable
    raise error_class(
        failure["message"], provider=failure["provider"], retry_after=failure.get("retry_after")
    )


def product_record_bytes(*, asin: str, marketplace: Marketplace) -> Fetched:
    """The record of ``asin`` in ``marketplace`` as JSON bytes, and where it came from.

    Raises ``ProductNotFound`` or another ``ProviderError`` when nothing can be delivered."""
    record_key, failed_key, lock_key = _keys(asin, marketplace)
    client = redis_client()
    cached, failed = cast(list[bytes | None], client.mget([record_key, failed_key]))
    if cached is not None:
        return Fetched(cached, CACHE)
    if failed is not None:
        _raise_failure(failed, asin)

    settings = conf.lookup_settings()
    stored = _fresh_from_database(asin, marketplace, settings.cache_seconds)
    if stored is not None:
        body, age = stored
        client.set(record_key, body, ex=max(1, int(settings.cache_seconds - age)))
        return Fetched(body, DATABASE)

    token = uuid.uuid4().hex
    deadline = time.monotonic() + settings.wait_seconds
    lock_ms = int((settings.wait_seconds + 5) * 1000)
    delay = 0.005
    while True:
        if client.set(lock_key, token, nx=True, px=lock_ms):
            try:
                return _fetch_upstream(asin, marketplace, record_key, failed_key)
            finally:
                _release_lock([lock_key], [token])
        # Another request is fetching this product: wait for its outcome.
        while True:
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
            cached, failed, holder = cast(list[bytes | None], client.mget([record_key, failed_key, lock_key]))
            if cached is not None:
                return Fetched(cached, UPSTREAM)
            if failed is not None:
                _raise_failure(failed, asin)
            if holder is None:
                break  # the fetcher is gone without a result: try to become the fetcher
            if time.monotonic() > deadline:
                raise UpstreamUnavailable(
                    "The product is still being fetched; try again shortly.", provider="lookup", retry_after=1
                )


def _fetch_upstream(asin: str, marketplace: Marketplace, record_key: str, failed_key: str) -> Fetched:
    settings = conf.lookup_settings()
    client = redis_client()
    cached = cast(bytes | None, client.get(record_key))  # finished by the previous lock holder meanwhile?
    if cached is not None:
        return Fetched(cached, CACHE)
    try:
        record = fetch_one_with_fallback(asin, marketplace)
    except ProviderError as exc:
        not_found = isinstance(exc, ProductNotFound)
        marker = {
            "code": exc.code,
            "message": exc.message,
            "provider": exc.provider,
            "retry_after": exc.retry_after,
        }
        ttl = settings.not_found_seconds if not_found else settings.unavailable_seconds
        client.set(failed_key, json.dumps(marker), px=max(1, int(ttl * 1000)))
        raise
    body = product_store(record=record)
    client.set(record_key, body, ex=settings.cache_seconds)
    return Fetched(body, UPSTREAM)


def _fresh_from_database(asin: str, marketplace: Marketplace, max_age: int) -> tuple[bytes, float] | None:
    oldest = timezone.now() - timedelta(seconds=max_age)
    row = (
        Product.objects.filter(asin=asin, marketplace=marketplace.code, fetched_at__gte=oldest)
        .values_list("record", "fetched_at")
        .first()
    )
    if row is None:
        return None
    record, fetched_at = row
    age = (timezone.now() - fetched_at).total_seconds()
    return json.dumps(record, separators=(",", ":")).encode(), age


@transaction.atomic
def product_store(*, record: ProductRecord) -> bytes:
    """Keep a fetched record: the product row (latest) and a snapshot of its price and rank."""
    data = record.to_dict()
    product, _ = Product.objects.update_or_create(
        asin=record.asin,
        marketplace=record.marketplace,
        defaults={
            "title": (record.title or "")[:500],
            "brand": (record.brand or "")[:200],
            "provider": record.provider,
            "sample_data": record.sample_data,
            "record": data,
            "fetched_at": record.fetched_at,
        },
    )
    ProductSnapshot.objects.get_or_create(
        product=product,
        fetched_at=record.fetched_at,
        provider=record.provider,
        defaults={
            "currency": (record.price.currency if record.price else ""),
            "price": record.price.amount if record.price else None,
            "buy_box_price": record.buy_box.price.amount if record.buy_box else None,
            "sales_rank": record.sales_rank.rank if record.sales_rank else None,
            "offer_count": record.offers.total if record.offers else None,
            "rating": record.rating,
            "review_count": record.review_count,
        },
    )
    return json.dumps(data, separators=(",", ":")).encode()
