"""The products app's settings, each declared once (core.appsettings).

config/settings.py reads them from the environment (its "Products" sections); this module turns
them into typed objects. Everything is read on each call, so ``override_settings`` in tests and
a changed setting are seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ImproperlyConfigured

from core.appsettings import load, setting
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
    # Product Fees v0 (productFeesV0.json): getMyFeesEstimateForASIN 1/s burst 2,
    # getMyFeesEstimates (up to 20 items a call) 0.5/s burst 1.
    "spapi.fees": RateLimit(rate=1.0, burst=2.0),
    "spapi.fees_batch": RateLimit(rate=0.5, burst=1.0),
}

# getInventorySummaries' usage plan (../shared/reference/sp-api/fbaInventory.json):
# 2 requests/s, burst 2, per selling partner: each seller has a bucket of their own
# (``spapi.fba_inventory.<seller id>``), so it is not one of the buckets above.
FBA_INVENTORY_RATE = RateLimit(rate=2.0, burst=2.0)


def _provider_names(names: list[str]) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in names if name.strip())


def _without_trailing_slash(url: str) -> str:
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    # Tried in this order; when one fails or its circuit is open, the next one is tried.
    # "sandbox" (offline, deterministic sample data), "keepa", "spapi".
    providers: tuple[str, ...] = setting("PRODUCT_PROVIDERS", default=["sandbox"], clean=_provider_names)
    # Extra delay of every sandbox answer, to behave like a real upstream.
    sandbox_latency_ms: int = setting("SANDBOX_LATENCY_MS", default=0, minimum=0)


@dataclass(frozen=True, slots=True)
class KeepaSettings:
    api_key: str = setting("KEEPA_API_KEY", default="")
    base_url: str = setting("KEEPA_API_BASE", default="https://api.keepa.com", clean=_without_trailing_slash)
    # Days of statistics Keepa computes per product (no extra token cost).
    stats_days: int = setting("KEEPA_STATS_DAYS", default=90)


@dataclass(frozen=True, slots=True)
class SpApiSettings:
    client_id: str = setting("SPAPI_CLIENT_ID", default="")
    client_secret: str = setting("SPAPI_CLIENT_SECRET", default="")
    refresh_token: str = setting("SPAPI_REFRESH_TOKEN", default="")
    lwa_token_url: str = setting("LWA_TOKEN_URL", default="https://api.amazon.com/auth/o2/token")
    # Empty means each marketplace's regional endpoint (sellingpartnerapi-na/eu/fe.amazon.com).
    endpoint: str = setting("SPAPI_ENDPOINT", default="", clean=_without_trailing_slash)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.refresh_token)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    # Every upstream HTTP call: timeouts (seconds), retries of timeouts, connection
    # errors, 429 and 5xx with exponential backoff and jitter, honouring Retry-After
    # while the waits of one call stay within the budget.
    connect_timeout: float = setting("UPSTREAM_CONNECT_TIMEOUT", default=3.05)
    read_timeout: float = setting("UPSTREAM_READ_TIMEOUT", default=10.0)
    retry_attempts: int = setting("UPSTREAM_RETRY_ATTEMPTS", default=3, minimum=1)
    backoff_initial: float = setting("UPSTREAM_RETRY_BACKOFF", default=0.5)
    backoff_max: float = setting("UPSTREAM_RETRY_BACKOFF_MAX", default=8.0)
    retry_budget: float = setting("UPSTREAM_RETRY_BUDGET", default=10.0)
    pool_size: int = setting("UPSTREAM_POOL_SIZE", default=10)


@dataclass(frozen=True, slots=True)
class CircuitSettings:
    # Circuit breaker per provider, shared by all processes through Redis: opens
    # after this many failed calls in a row (each within the window of the last),
    # stays open for CIRCUIT_OPEN_SECONDS, then lets one probe call through.
    failure_threshold: int = setting("CIRCUIT_FAILURE_THRESHOLD", default=5, minimum=1)
    failure_window: float = setting("CIRCUIT_FAILURE_WINDOW", default=60.0)
    open_seconds: float = setting("CIRCUIT_OPEN_SECONDS", default=30.0)


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    # Overrides of the shared rate limits (products/conf.py has the defaults), as
    # "<bucket>=<rate per second>/<burst>,...", e.g. "keepa=0.33/100,spapi.pricing=0.5/1".
    overrides: str = setting("PROVIDER_RATE_LIMITS", default="")
    # Longest a call waits for its rate-limit turn before giving up (seconds).
    max_wait: float = setting("PROVIDER_RATE_LIMIT_MAX_WAIT", default=5.0)


@dataclass(frozen=True, slots=True)
class LookupSettings:
    # A product is served from the cache (and the database) for this long after it
    # was fetched upstream; then the next lookup fetches it again.
    cache_seconds: int = setting("PRODUCT_CACHE_SECONDS", default=6 * 3600)
    # Each process also keeps a record it read from the Redis cache for this long (0: off):
    # a product asked for again costs no round trip, and a record replaced in Redis reaches
    # every process within this time.
    local_cache_seconds: float = setting("PRODUCT_LOCAL_CACHE_SECONDS", default=2.0)
    # An ASIN the upstream does not know is not asked for again for this long.
    not_found_seconds: int = setting("PRODUCT_NOT_FOUND_SECONDS", default=600)
    # After an upstream outage, lookups waiting on the same product fail fast for this long.
    unavailable_seconds: float = setting("PRODUCT_UNAVAILABLE_SECONDS", default=2.0)
    # Longest a lookup waits for another request's upstream fetch of the same product.
    wait_seconds: float = setting("PRODUCT_LOOKUP_WAIT_SECONDS", default=20.0)
    # How long an Idempotency-Key's answer is kept for replay.
    idempotency_seconds: int = setting("LOOKUP_IDEMPOTENCY_SECONDS", default=24 * 3600)


def product_providers() -> list[str]:
    return list(load(ProviderSettings).providers)


def sandbox_latency_seconds() -> float:
    return load(ProviderSettings).sandbox_latency_ms / 1000


def http_settings() -> HttpSettings:
    return load(HttpSettings)


def circuit_settings() -> CircuitSettings:
    return load(CircuitSettings)


def keepa_settings() -> KeepaSettings:
    return load(KeepaSettings)


def spapi_settings() -> SpApiSettings:
    return load(SpApiSettings)


def rate_limit_max_wait() -> float:
    return float(load(RateLimitSettings).max_wait)


def rate_limits() -> dict[str, RateLimit]:
    return _rate_limits(load(RateLimitSettings).overrides)


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


def local_cache_seconds() -> float:
    """How long a process keeps a record it read from the Redis cache (never longer than
    the record's own freshness); 0: not at all."""
    lookups = lookup_settings()
    return max(0.0, min(float(lookups.local_cache_seconds), float(lookups.cache_seconds)))


def lookup_settings() -> LookupSettings:
    return load(LookupSettings)
