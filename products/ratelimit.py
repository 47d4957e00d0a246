"""The upstream providers' rate limits: one shared token bucket (core/ratelimit.py) per
provider, or per provider operation when their rates differ, as SP-API's do, configured in
products/conf.py and ``PROVIDER_RATE_LIMITS``.
"""

from __future__ import annotations

from core.ratelimit import RateLimitExceeded, TokenBucket
from monitoring import metrics
from products import conf


def acquire(bucket: str, tokens: float = 1, *, max_wait: float | None = None) -> float:
    """Wait for ``tokens`` of ``bucket``'s configured rate; return the seconds waited.

    Raises ``RateLimitExceeded`` (reserving nothing) when that would take longer
    than ``max_wait`` (default ``PROVIDER_RATE_LIMIT_MAX_WAIT``).
    """
    if max_wait is None:
        max_wait = conf.rate_limit_max_wait()
    try:
        waited = TokenBucket(bucket, conf.rate_limit(bucket)).acquire(tokens, max_wait=max_wait)
    except RateLimitExceeded:
        metrics.record_ratelimit_rejected(bucket=bucket)
        raise
    metrics.record_ratelimit_wait(bucket=bucket, seconds=waited)
    return waited
