"""The products app's settings, read in one place.

config/settings.py reads the environment (its "Products" section); this
module turns those values into typed objects. Everything is read on each call,
so ``override_settings`` in tests and a changed environment are seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.ratelimit import RateLimit

# Per bucket (a provider, or a provider's operation when their rates differ).
# SP-API: the usage plans in the operations' descriptions (getCatalogItem 2/s
# burst 2; getItemOffers 0.5/s burst 1). Keepa: the entry plan refills 20
# tokens a minute, and a full batch of 100 ASINs costs 100 tokens, so the
# bucket holds one batch; set it to your plan (refillRate / 60).
DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "sandbox": RateLimit(rate=1000.0, burst=1000.0),
    "keepa": RateLimit(rate=20 / 60, burst=100.0),
    "spapi.catalog": RateLimit(rate=2.0, burst=2.0),
    "spapi.pricing": RateLimit(rate=0.5, burst=1.0),
}

# getInventorySummaries' usage plan (../shared/reference/sp-api/fbaInventory.json):
# 2 requests/s, burst 2, per selling partner: each seller has a bucket of their own
# (``spapi.fba_inventory.<seller id>``), so it is not one of the buckets above.
FBA_INVENTORY_RATE = RateLimit(rate=2.0, burst=2.0)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    connect_timeout: float
    read_timeout: float
    retry_attempts: int
    backoff_initial: float
    backoff_max: float
    retry_budget: float
    pool_size: int


@dataclass(frozen=True, slots=True)
class CircuitSettings:
    failure_threshold: int
    failure_window: float
    open_seconds: float


@dataclass(frozen=True, slots=True)
class KeepaSettings:
    api_key: str
    base_url: str
    stats_days: int


@dataclass(frozen=True, slots=True)
class SpApiSettings:
    client_id: str
    client_secret: str
    refresh_token: str
    lwa_token_url: str
    endpoint: str

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.refresh_token)


def product_providers() -> list[str]:
    return [name.strip().lower() for name in settings.PRODUCT_PROVIDERS if name.strip()]


def sandbox_latency_seconds() -> float:
    return max(0, settings.SANDBOX_LATENCY_MS) / 1000


def http_settings() -> HttpSettings:
    return HttpSettings(
        connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
        read_timeout=settings.UPSTREAM_READ_TIMEOUT,
        retry_attempts=max(1, settings.UPSTREAM_RETRY_ATTEMPTS),
        backoff_initial=settings.UPSTREAM_RETRY_BACKOFF,
        backoff_max=settings.UPSTREAM_RETRY_BACKOFF_MAX,
        retry_budget=settings.UPSTREAM_RETRY_BUDGET,
        pool_size=settings.UPSTREAM_POOL_SIZE,
    )


def circuit_settings() -> CircuitSettings:
    return CircuitSettings(
        failure_threshold=max(1, settings.CIRCUIT_FAILURE_THRESHOLD),
        failure_window=settings.CIRCUIT_FAILURE_WINDOW,
        open_seconds=settings.CIRCUIT_OPEN_SECONDS,
    )


def keepa_settings() -> KeepaSettings:
    return KeepaSettings(
        api_key=settings.KEEPA_API_KEY,
        base_url=settings.KEEPA_API_BASE.rstrip("/"),
        stats_days=settings.KEEPA_STATS_DAYS,
    )


def spapi_settings() -> SpApiSettings:
    return SpApiSettings(
        client_id=settings.SPAPI_CLIENT_ID,
        client_secret=settings.SPAPI_CLIENT_SECRET,
        refresh_token=settings.SPAPI_REFRESH_TOKEN,
        lwa_token_url=settings.LWA_TOKEN_URL,
        endpoint=settings.SPAPI_ENDPOINT.rstrip("/"),
    )


def rate_limit_max_wait() -> float:
    return float(settings.PROVIDER_RATE_LIMIT_MAX_WAIT)


def rate_limits() -> dict[str, RateLimit]:
    return _rate_limits(settings.PROVIDER_RATE_LIMITS)


def rate_limit(bucket: str) -> RateLimit:
    limits = rate_limits()
    if bucket in limits:
        return limits[bucket]
    raise ImproperlyConfigured(
        f"No rate limit for {bucket!r}: add it to PROVIDER_RATE_LIMITS as {bucket}=<rate>/<burst>."
    )


@lru_cache(maxsize=8)
def _rate_limits(raw: str) -> dict[str, RateLimit]:
    return {**DEFAULT_RATE_LIMITS, **parse_rate_limits(raw)}


def parse_rate_limits(raw: str) -> dict[str, RateLimit]:
    """Parse ``"keepa=5/300, spapi.pricing=0.5/1"`` (rate per second / burst; burst defaults to the rate)."""
    limits: dict[str, RateLimit] = {}
    for item in raw.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        rate_text, _, burst_text = value.partition("/")
        try:
            if not sep or not name.strip():
                raise ValueError
            rate = float(rate_text)
            burst = float(burst_text) if burst_text.strip() else max(1.0, rate)
        except ValueError:
            raise ImproperlyConfigured(
                f"PROVIDER_RATE_LIMITS: cannot read {item!r}; write <bucket>=<rate per second>/<burst>, "
                "for example keepa=0.33/100."
            ) from None
        if rate <= 0 or burst < 1:
            raise ImproperlyConfigured(
                f"PROVIDER_RATE_LIMITS: {item!r} needs a rate above 0 and a burst of at least 1."
            )
        limits[name.strip()] = RateLimit(rate=rate, burst=burst)
    return limits


@dataclass(frozen=True, slots=True)
class LookupSettings:
    cache_seconds: int
    not_found_seconds: int
    unavailable_seconds: float
    wait_seconds: float
    idempotency_seconds: int


def local_cache_seconds() -> float:
    """How long a process keeps a record it read from the Redis cache (never longer than
    the record's own freshness); 0: not at all."""
    return max(0.0, min(float(settings.PRODUCT_LOCAL_CACHE_SECONDS), float(settings.PRODUCT_CACHE_SECONDS)))


def lookup_settings() -> LookupSettings:
    return LookupSettings(
        cache_seconds=settings.PRODUCT_CACHE_SECONDS,
        not_found_seconds=settings.PRODUCT_NOT_FOUND_SECONDS,
        unavailable_seconds=settings.PRODUCT_UNAVAILABLE_SECONDS,
        wait_seconds=settings.PRODUCT_LOOKUP_WAIT_SECONDS,
        idempotency_seconds=settings.LOOKUP_IDEMPOTENCY_SECONDS,
    )
