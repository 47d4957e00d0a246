"""Worker processes for the shared rate limit tests (started with multiprocessing "spawn")."""

from __future__ import annotations

import os
import time
from typing import Any


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _start_together(ready: Any, go: Any, start_at: Any) -> float:
    ready.put(os.getpid())
    go.wait(timeout=60)
    time.sleep(max(0.0, start_at.value - time.time()))
    return float(start_at.value)


def hammer_bucket(
    name: str, rate: float, burst: float, duration: float, ready: Any, go: Any, start_at: Any, results: Any
) -> None:
    """Take tokens one by one as fast as the bucket allows; report when each was granted."""
    _setup_django()
    from core.ratelimit import RateLimit, TokenBucket

    bucket = TokenBucket(name, RateLimit(rate=rate, burst=burst))
    end_at = _start_together(ready, go, start_at) + duration
    granted = []
    while time.time() < end_at:
        bucket.acquire(1, max_wait=30)
        granted.append(time.time())
    results.put(granted)


def hammer_upstream(url: str, duration: float, ready: Any, go: Any, start_at: Any, results: Any) -> None:
    """Call an upstream through the platform's HTTP client (bucket "stub") as fast as allowed."""
    _setup_django()
    from products.providers.http import UpstreamClient

    client = UpstreamClient("stub")
    end_at = _start_together(ready, go, start_at) + duration
    sent = 0
    while time.time() < end_at:
        client.request("GET", url, operation="hammer", rate_bucket="stub")
        sent += 1
    results.put(sent)
