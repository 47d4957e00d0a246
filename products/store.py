"""Where a product record comes from: the Redis cache, the database, or the upstream.

``product_record_bytes`` returns the record as JSON bytes, ready to send: the
hot path never rebuilds a record it already has. An upstream fetch is
single-flight per (ASIN, marketplace) across every process: one request takes
a Redis lock and calls the provider chain; the others wait for its result in
the cache (or its failure, left as a short-lived marker) instead of calling
the upstream themselves.

Why one module of this length: the single record (``product_record_bytes``) and many
records at once (``product_records_many``, for bulk jobs) share one single-flight protocol:
the cache keys, the lock, the failure markers other processes read, the process-local copy
and how a record is written to the database. Splitting them would make those private helpers a
public interface between two modules that must change together.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.shared_state import LuaScript, redis_client, send_without_reply, shared_key
from products import conf
from products.marketplaces import Marketplace, marketplace_get
from products.models import Product, ProductSnapshot
from products.providers import (
    CircuitOpen,
    MarketplaceNotSupported,
    ProductNotFound,
    ProductRecord,
    ProviderError,
    ProviderNotConfigured,
    RateLimited,
    UpstreamUnavailable,
    fetch_one_with_fallback,
    fetch_with_fallback,
    provider_chain,
)
from products.providers.base import product_not_found

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


def _failure_marker(exc: ProviderError) -> str:
    """What the cache keeps of a failed fetch, so a request finding it is answered as the
    request that failed was (the same message and details)."""
    extra = {k: v for k, v in exc.extra.items() if k not in ("provider", "retry_after")}
    return json.dumps(
        {
            "code": exc.code,
            "message": exc.message,
            "provider": exc.provider,
            "retry_after": exc.retry_after,
            "extra": extra,
        }
    )


def _failure_error(marker: bytes) -> ProviderError:
    failure = json.loads(marker)
    error_class = ProductNotFound if failure["code"] == ProductNotFound.code else UpstreamUnavailable
    return error_class(
        failure["message"],
        provider=failure["provider"],
        retry_after=failure.get("retry_after"),
        extra=failure.get("extra"),
    )


def _raise_failure(marker: bytes, asin: str) -> None:
    raise _failure_error(marker)


# KEYS: the record, its failure marker, a list; ARGV: a value. Reads the record and
# the marker, and appends the value to the list when the record is there.
_read_cached = LuaScript(
    """
    local found = redis.call("MGET", KEYS[1], KEYS[2])
    if found[1] then
        redis.call("RPUSH", KEYS[3], ARGV[1])
    end
    return found
    """
)


# Records this process read from the Redis cache: record key -> (monotonic expiry, bytes).
# A product asked for again within PRODUCT_LOCAL_CACHE_SECONDS costs no round trip; a
# record replaced in Redis reaches the other processes within that time (this one at once).
_local: dict[str, tuple[float, bytes]] = {}
LOCAL_CACHE_ENTRIES = 2000


def _local_get(record_key: str) -> bytes | None:
    entry = _local.get(record_key)
    if entry is None:
        return None
    if entry[0] <= time.monotonic():
        _local.pop(record_key, None)
        return None
    return entry[1]


def _local_keep(record_key: str, body: bytes) -> None:
    seconds = conf.local_cache_seconds()
    if seconds <= 0:
        return
    if len(_local) >= LOCAL_CACHE_ENTRIES:
        _local.clear()
    _local[record_key] = (time.monotonic() + seconds, body)


def _local_forget(record_key: str) -> None:
    _local.pop(record_key, None)


def product_local_cache_clear() -> None:
    """Forget every record this process keeps (tests; the Redis cache is unchanged)."""
    _local.clear()


def product_record_bytes(
    *,
    asin: str,
    marketplace: Marketplace,
    fetched_since: datetime | None = None,
    on_cache_hit: tuple[str, str] | None = None,
) -> Fetched:
    """The record of ``asin`` in ``marketplace`` as JSON bytes, and where it came from.

    ``fetched_since`` asks for a record fetched at or after that moment (a
    watchlist's refresh slot): an older cached or stored one is passed over and
    the product is fetched again, through the same single flight, and the fresh
    record replaces the cached one.

    ``on_cache_hit`` (a Redis list and a value) is appended to that list in the
    same round trip as the cache read when the record is served from the cache
    (``source`` CACHE): a lookup's log line, so a hit costs one round trip.

    Raises ``ProductNotFound`` or another ``ProviderError`` when nothing can be delivered."""
    record_key, failed_key, lock_key = _keys(asin, marketplace)
    if on_cache_hit is not None and fetched_since is not None:
        raise ValueError("on_cache_hit serves any cached record: it cannot take fetched_since.")
    if fetched_since is None and (kept := _local_get(record_key)) is not None:
        if on_cache_hit is not None:
            send_without_reply("RPUSH", *on_cache_hit)
        return Fetched(kept, CACHE)
    client = redis_client()
    if on_cache_hit is not None:
        list_key, value = on_cache_hit
        found = _read_cached([record_key, failed_key, list_key], [value])
        cached, failed = cast(list[bytes | None], found)
    else:
        cached, failed = cast(list[bytes | None], client.mget([record_key, failed_key]))
    if cached is not None and _fetched_since(cached, fetched_since):
        _local_keep(record_key, cached)
        return Fetched(cached, CACHE)
    if failed is not None:
        _raise_failure(failed, asin)

    settings = conf.lookup_settings()
    stored = _fresh_from_database(asin, marketplace, settings.cache_seconds, fetched_since)
    if stored is not None:
        body, age = stored
        client.set(record_key, body, ex=max(1, int(settings.cache_seconds - age)))
        _local_forget(record_key)
        return Fetched(body, DATABASE)

    token = uuid.uuid4().hex
    deadline = time.monotonic() + settings.wait_seconds
    lock_ms = int((settings.wait_seconds + 5) * 1000)
    delay = 0.005
    while True:
        if client.set(lock_key, token, nx=True, px=lock_ms):
            try:
                return _fetch_upstream(asin, marketplace, record_key, failed_key, fetched_since)
            finally:
                _release_lock([lock_key], [token])
        # Another request is fetching this product: wait for its outcome.
        while True:
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
            cached, failed, holder = cast(list[bytes | None], client.mget([record_key, failed_key, lock_key]))
            if cached is not None and _fetched_since(cached, fetched_since):
                return Fetched(cached, UPSTREAM)
            if failed is not None:
                _raise_failure(failed, asin)
            if holder is None:
                break  # the fetcher is gone without a result: try to become the fetcher
            if time.monotonic() > deadline:
                raise UpstreamUnavailable(
                    "The product is still being fetched; try again shortly.", provider="lookup", retry_after=1
                )


def _fetch_upstream(
    asin: str, marketplace: Marketplace, record_key: str, failed_key: str, fetched_since: datetime | None
) -> Fetched:
    settings = conf.lookup_settings()
    client = redis_client()
    cached = cast(bytes | None, client.get(record_key))  # finished by the previous lock holder meanwhile?
    if cached is not None and _fetched_since(cached, fetched_since):
        return Fetched(cached, CACHE)
    try:
        record = fetch_one_with_fallback(asin, marketplace)
    except ProviderError as exc:
        not_found = isinstance(exc, ProductNotFound)
        ttl = settings.not_found_seconds if not_found else settings.unavailable_seconds
        client.set(failed_key, _failure_marker(exc), px=max(1, int(ttl * 1000)))
        raise
    # The cache first: a request arriving meanwhile finds the record in the cache, never
    # in the database alone (it would tell its caller "database" for a fresh fetch).
    body = json.dumps(record.to_dict(), separators=(",", ":")).encode()
    client.set(record_key, body, ex=settings.cache_seconds)
    _local_forget(record_key)
    product_store(record=record)
    return Fetched(body, UPSTREAM)


def _fetched_since(body: bytes, moment: datetime | None) -> bool:
    if moment is None:
        return True
    fetched_at = parse_datetime(str(json.loads(body).get("fetched_at") or ""))
    return fetched_at is not None and fetched_at >= moment


def _fresh_from_database(
    asin: str, marketplace: Marketplace, max_age: int, fetched_since: datetime | None = None
) -> tuple[bytes, float] | None:
    oldest = timezone.now() - timedelta(seconds=max_age)
    if fetched_since is not None:
        oldest = max(oldest, fetched_since)
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


def _product_fields(record: ProductRecord, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": (record.title or "")[:500],
        "brand": (record.brand or "")[:200],
        "provider": record.provider,
        "sample_data": record.sample_data,
        "record": data,
        "fetched_at": record.fetched_at,
    }


def _snapshot_fields(record: ProductRecord) -> dict[str, Any]:
    return {
        "currency": (record.price.currency if record.price else ""),
        "price": record.price.amount if record.price else None,
        # Landed (item + shipping), as the record's price is: a watchlist compares like with like.
        "buy_box_price": record.buy_box.landed_price.amount if record.buy_box else None,
        "sales_rank": record.sales_rank.rank if record.sales_rank else None,
        "offer_count": record.offers.total if record.offers else None,
        "rating": record.rating,
        "review_count": record.review_count,
    }


@transaction.atomic
def product_store(*, record: ProductRecord) -> bytes:
    """Keep a fetched record: the product row (latest) and a snapshot of its price and rank."""
    data = record.to_dict()
    product, _ = Product.objects.update_or_create(
        asin=record.asin, marketplace=record.marketplace, defaults=_product_fields(record, data)
    )
    ProductSnapshot.objects.get_or_create(
        product=product,
        fetched_at=record.fetched_at,
        provider=record.provider,
        defaults=_snapshot_fields(record),
    )
    return json.dumps(data, separators=(",", ":")).encode()


# --- Many products at once (bulk jobs) ----------------------------------------------------

# Reasons a provider gives for an answer it did not ask the upstream for: the
# work was not attempted, so a bulk item waits rather than uses an attempt.
IN_FLIGHT = "in_flight"
NOT_CALLED_REASONS = frozenset(
    {"circuit_open", "rate_limited", "out_of_tokens", "rate_limiter_unavailable", IN_FLIGHT}
)
_PERMANENT_CODES = frozenset({ProviderNotConfigured.code, MarketplaceNotSupported.code})

_release_locks = LuaScript(
    """
    local released = 0
    for _, key in ipairs(KEYS) do
        if redis.call("GET", key) == ARGV[1] then
            released = released + redis.call("DEL", key)
        end
    end
    return released
    """
)


def upstream_not_called(error: ProviderError) -> bool:
    """Whether ``error`` means no upstream was asked (circuit open, rate limit, another fetch in flight)."""
    if isinstance(error, CircuitOpen | RateLimited) or error.extra.get("reason") in NOT_CALLED_REASONS:
        return True
    providers = [p for p in error.extra.get("providers") or () if p.get("code") not in _PERMANENT_CODES]
    return bool(providers) and all(p.get("reason") in NOT_CALLED_REASONS for p in providers)


def product_records_many(
    *, asins: Sequence[str], marketplace: Marketplace
) -> dict[str, Fetched | ProviderError]:
    """For each normalised ASIN, its record as JSON bytes (and where it came from) or why there is none.

    ``product_record_bytes`` for many products at once: one MGET of the cache,
    one query for fresh rows, then the upstream for the rest, single-flight
    per ASIN across processes as for single lookups (an ASIN another request
    is fetching is waited for), in batches of the first configured provider's
    ``max_batch_size`` (Keepa: 100 ASINs a request). A batch the upstream
    fails as a whole is split in halves, so one ASIN that breaks a batch does
    not fail the others."""
    unique = list(dict.fromkeys(asins))
    if not unique:
        return {}
    settings = conf.lookup_settings()
    client = redis_client()
    keys = {asin: _keys(asin, marketplace) for asin in unique}
    found: dict[str, Fetched | ProviderError] = {}
    values = cast(list[bytes | None], client.mget([key for asin in unique for key in keys[asin][:2]]))
    for i, asin in enumerate(unique):
        cached, failed = values[2 * i], values[2 * i + 1]
        if cached is not None:
            found[asin] = Fetched(cached, CACHE)
        elif failed is not None:
            found[asin] = _failure_error(failed)
    missing = [asin for asin in unique if asin not in found]
    if missing:
        stored = _fresh_many_from_database(missing, marketplace, settings.cache_seconds)
        if stored:
            pipe = client.pipeline(transaction=False)
            for asin, (body, age) in stored.items():
                pipe.set(keys[asin][0], body, ex=max(1, int(settings.cache_seconds - age)))
                _local_forget(keys[asin][0])
                found[asin] = Fetched(body, DATABASE)
            pipe.execute()
            missing = [asin for asin in missing if asin not in found]
    if missing:
        found.update(_fetch_many_single_flight(missing, marketplace, keys))
    return found


def _fresh_many_from_database(
    asins: list[str], marketplace: Marketplace, max_age: int
) -> dict[str, tuple[bytes, float]]:
    now = timezone.now()
    rows = Product.objects.filter(
        marketplace=marketplace.code, asin__in=asins, fetched_at__gte=now - timedelta(seconds=max_age)
    ).values_list("asin", "record", "fetched_at")
    return {
        asin: (json.dumps(record, separators=(",", ":")).encode(), (now - fetched_at).total_seconds())
        for asin, record, fetched_at in rows
    }


def _fetch_many_single_flight(
    asins: list[str], marketplace: Marketplace, keys: dict[str, tuple[str, str, str]]
) -> dict[str, Fetched | ProviderError]:
    settings = conf.lookup_settings()
    client = redis_client()
    token = uuid.uuid4().hex
    deadline = time.monotonic() + settings.wait_seconds
    lock_ms = int((settings.wait_seconds + 5) * 1000)
    found: dict[str, Fetched | ProviderError] = {}
    waiting = list(asins)
    delay = 0.005
    while waiting:
        pipe = client.pipeline(transaction=False)
        for asin in waiting:
            pipe.set(keys[asin][2], token, nx=True, px=lock_ms)
        acquired = [asin for asin, ok in zip(waiting, pipe.execute(), strict=True) if ok]
        if acquired:
            try:
                found.update(_fetch_upstream_many(acquired, marketplace, keys))
            finally:
                _release_locks([keys[asin][2] for asin in acquired], [token])
        waiting = [asin for asin in waiting if asin not in found]
        # Other requests are fetching these: wait for their outcome, or for their lock to go.
        while waiting:
            if time.monotonic() > deadline:
                for asin in waiting:
                    found[asin] = UpstreamUnavailable(
                        "The product is still being fetched; try again shortly.",
                        provider="lookup",
                        retry_after=1,
                        extra={"reason": IN_FLIGHT},
                    )
                return found
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
            values = cast(list[bytes | None], client.mget([key for asin in waiting for key in keys[asin]]))
            fetcher_gone = False
            for i, asin in enumerate(waiting):
                cached, failed, holder = values[3 * i : 3 * i + 3]
                if cached is not None:
                    found[asin] = Fetched(cached, UPSTREAM)
                elif failed is not None:
                    found[asin] = _failure_error(failed)
                elif holder is None:
                    fetcher_gone = True
            waiting = [asin for asin in waiting if asin not in found]
            if fetcher_gone:
                break  # try to become the fetcher of those
    return found


def _upstream_batch_size() -> int:
    for provider in provider_chain():
        if provider.is_configured():
            return provider.max_batch_size
    return 1


def _fetch_upstream_many(
    asins: list[str], marketplace: Marketplace, keys: dict[str, tuple[str, str, str]]
) -> dict[str, Fetched | ProviderError]:
    settings = conf.lookup_settings()
    client = redis_client()
    found: dict[str, Fetched | ProviderError] = {}
    # Finished by the previous lock holder meanwhile?
    cached = cast(list[bytes | None], client.mget([keys[asin][0] for asin in asins]))
    for asin, body in zip(asins, cached, strict=True):
        if body is not None:
            found[asin] = Fetched(body, CACHE)
    to_fetch = [asin for asin in asins if asin not in found]
    size = max(1, _upstream_batch_size())
    for start in range(0, len(to_fetch), size):
        batch = to_fetch[start : start + size]
        outcome = _fetch_isolating(batch, marketplace)
        records = [r for r in outcome.values() if isinstance(r, ProductRecord)]
        bodies = dict(zip([r.asin for r in records], product_store_many(records=records), strict=True))
        pipe = client.pipeline(transaction=False)
        for asin in batch:
            record_key, failed_key, _ = keys[asin]
            result = outcome[asin]
            if isinstance(result, ProductRecord):
                pipe.set(record_key, bodies[asin], ex=settings.cache_seconds)
                _local_forget(record_key)
                found[asin] = Fetched(bodies[asin], UPSTREAM)
                continue
            not_found = isinstance(result, ProductNotFound)
            ttl = settings.not_found_seconds if not_found else settings.unavailable_seconds
            pipe.set(failed_key, _failure_marker(result), px=max(1, int(ttl * 1000)))
            found[asin] = result
        pipe.execute()
    return found


def _fetch_isolating(asins: list[str], marketplace: Marketplace) -> dict[str, ProductRecord | ProviderError]:
    try:
        result = fetch_with_fallback(asins, marketplace)
    except ProviderError as exc:
        if len(asins) == 1 or exc.code in _PERMANENT_CODES or upstream_not_called(exc):
            return dict.fromkeys(asins, exc)
        # Maybe one ASIN broke the batch: split it, so the others still get through.
        middle = len(asins) // 2
        return {
            **_fetch_isolating(asins[:middle], marketplace),
            **_fetch_isolating(asins[middle:], marketplace),
        }
    return {
        asin: result.records.get(asin) or product_not_found(asin, marketplace, provider=result.provider)
        for asin in asins
    }


_PRODUCT_UPDATE_FIELDS = ("title", "brand", "provider", "sample_data", "record", "fetched_at")


def product_store_many(*, records: Sequence[ProductRecord]) -> list[bytes]:
    """``product_store`` for many records at once (one upsert, one insert).

    Returns the stored JSON of each record, in order."""
    if not records:
        return []
    data = [record.to_dict() for record in records]
    latest = {(r.marketplace, r.asin): (r, d) for r, d in zip(records, data, strict=True)}
    # One order for every writer, so two of them upserting overlapping rows cannot deadlock.
    ordered = sorted(latest.items(), key=lambda item: item[0])
    with transaction.atomic():
        # created_at as an expression keeps Django from sending the rows as arrays
        # (UNNEST): psycopg's client-side quoting of JSON inside an array literal
        # costs more than the statement saves.
        products = [
            Product(asin=r.asin, marketplace=r.marketplace, created_at=Now(), **_product_fields(r, d))
            for _, (r, d) in ordered
        ]
        Product.objects.bulk_create(
            products,
            update_conflicts=True,
            unique_fields=["asin", "marketplace"],
            update_fields=list(_PRODUCT_UPDATE_FIELDS),
        )
        ids = {(p.marketplace, p.asin): p.pk for p in products}
        if any(pk is None for pk in ids.values()):  # a backend that does not return them
            ids = {
                (m, a): pk
                for m, a, pk in Product.objects.filter(
                    marketplace__in={m for m, _ in ids}, asin__in={a for _, a in ids}
                ).values_list("marketplace", "asin", "pk")
            }
        ProductSnapshot.objects.bulk_create(
            [
                ProductSnapshot(
                    product_id=ids[key], fetched_at=r.fetched_at, provider=r.provider, **_snapshot_fields(r)
                )
                for key, (r, _) in ordered
            ],
            ignore_conflicts=True,
        )
    return [json.dumps(d, separators=(",", ":")).encode() for d in data]


def product_records_keep(*, records: Sequence[ProductRecord]) -> dict[str, bytes]:
    """Keep whole records found some other way than a fetch (a barcode lookup): stored like
    fetched ones and cached, so the next lookup of their ASINs is served without the upstream.

    Returns each record's stored JSON by ASIN."""
    if not records:
        return {}
    settings = conf.lookup_settings()
    bodies = dict(zip([r.asin for r in records], product_store_many(records=records), strict=True))
    pipe = redis_client().pipeline(transaction=False)
    for record in records:
        record_key, failed_key, _ = _keys(record.asin, marketplace_get(record.marketplace))
        pipe.set(record_key, bodies[record.asin], ex=settings.cache_seconds)
        _local_forget(record_key)
        pipe.delete(failed_key)
    pipe.execute()
    return bodies
