"""Every upstream HTTP call goes through ``UpstreamClient.request``.

- One pooled ``requests.Session`` per provider and process (created after a
  fork, never shared across one), with connect and read timeouts on each call.
- The shared rate limit is taken before *each* attempt, retries included:
  every request that reaches the upstream counts.
- Timeouts, connection errors, 429 and 5xx are retried (tenacity) with
  exponential backoff and jitter. A wait the upstream asks for (``Retry-After``,
  or a provider's own hint such as Keepa's ``refillIn``) is honoured instead.
  Attempts are capped, and so is the total time spent waiting between them: a
  call that would have to wait longer fails at once with ``UpstreamUnavailable``
  carrying ``retry_after``, rather than hammering the upstream or holding a web
  request for minutes.
- Any other answer is returned for the adapter to read (404 may be "not
  found", 400 may be "invalid", ...).

Messages and logs never contain request URLs: Keepa's carries the API key.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from prometheus_client import Counter, Histogram
from redis import RedisError
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from core.ratelimit import RateLimitExceeded
from products import conf, ratelimit
from products.providers.base import RateLimited, UpstreamBadResponse, UpstreamUnavailable

logger = logging.getLogger(__name__)

USER_AGENT = "ProductIntelligencePlatform/1.0 (Language=Python; Platform=Django)"

UPSTREAM_REQUESTS = Counter(
    "products_upstream_requests_total",
    "Upstream HTTP requests by provider, operation and outcome (status code or error).",
    ["provider", "operation", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "products_upstream_request_seconds",
    "Upstream HTTP request latency.",
    ["provider", "operation"],
)

_sessions: dict[tuple[int, str], requests.Session] = {}
_sessions_lock = threading.Lock()


def session_for(provider: str) -> requests.Session:
    """The pooled session of ``provider`` in this process."""
    key = (os.getpid(), provider)
    session = _sessions.get(key)
    if session is None:
        with _sessions_lock:
            session = _sessions.get(key)
            if session is None:
                pool_size = conf.http_settings().pool_size
                session = requests.Session()
                # Retries are ours (tenacity), never urllib3's hidden ones.
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.headers["User-Agent"] = USER_AGENT
                _sessions[key] = session
    return session


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def json_body(response: requests.Response, *, provider: str, what: str) -> Any:
    """The response's JSON with exact decimals; garbage is ``UpstreamBadResponse``."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        content_type = response.headers.get("Content-Type", "")
        logger.warning(
            "%s %s: HTTP %s with a body that is not JSON (%s, %d bytes)",
            provider,
            what,
            response.status_code,
            content_type,
            len(response.content),
        )
        raise UpstreamBadResponse(
            f"The {provider} answer for {what} was not JSON.",
            provider=provider,
            extra={"status": response.status_code},
        ) from None


class _Transient(Exception):
    """An attempt that may succeed when repeated."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(reason)


class _WaitRetryAfterOrBackoff(wait_base):
    def __init__(self, backoff: wait_base, jitter: float) -> None:
        self.backoff = backoff
        self.jitter = jitter

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            # Never earlier than asked; a little later so processes do not all return at once.
            return exc.retry_after + random.uniform(0, self.jitter)  # noqa: S311 - jitter, not security
        return float(self.backoff(retry_state))


class _StopWhenBudgetSpent(stop_base):
    """Stop before a sleep that would take the total waiting of one call over the budget."""

    def __init__(self, budget: float) -> None:
        self.budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for + (retry_state.upcoming_sleep or 0.0) > self.budget


class UpstreamClient:
    """HTTP for one provider: pooled session, timeouts, shared rate limit, retries."""

    def __init__(self, provider: str, label: str | None = None) -> None:
        self.provider = provider
        self.label = label or provider

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        rate_bucket: str | None,
        tokens: float = 1,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        retry_hint: Callable[[requests.Response], float | None] | None = None,
    ) -> requests.Response:
        """Send the request, retrying what is transient; return the final non-retryable answer.

        ``json``: a JSON request body (SP-API's POST operations).
        ``rate_bucket``: the shared rate limit taken (``tokens`` of it) before
        each attempt. ``retry_hint``: sees every response (also the ones that are
        retried) and may return the seconds the upstream wants us to wait.
        Raises ``UpstreamUnavailable`` when retries are exhausted, ``RateLimited``
        when our own rate limit would wait too long.
        """
        http = conf.http_settings()
        session = session_for(self.provider)
        failed: list[_Transient] = []

        def attempt() -> requests.Response:
            if rate_bucket is not None:
                try:
                    self._take_rate_limit(rate_bucket, tokens, operation)
                except RateLimited as exc:
                    if not failed:
                        raise
                    # A retry held back by our own limit: the call failed upstream.
                    raise self._unavailable(failed[-1], operation, retry_after=exc.retry_after) from None
            started = time.monotonic()
            try:
                response = session.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    data=data,
                    json=json,
                    timeout=(http.connect_timeout, http.read_timeout),
                )
            except requests.Timeout:
                self._observe(operation, "timeout", started)
                failed.append(_Transient("timeout"))
                raise failed[-1] from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                self._observe(operation, "connection_error", started)
                failed.append(_Transient("connection error"))
                raise failed[-1] from None
            except requests.RequestException as exc:
                self._observe(operation, "request_error", started)
                raise UpstreamUnavailable(
                    f"The {self.label} request could not be sent.",
                    provider=self.provider,
                    extra={"reason": type(exc).__name__, "operation": operation},
                ) from None
            self._observe(operation, str(response.status_code), started)
            hint = retry_hint(response) if retry_hint is not None else None
            status = response.status_code
            if status == 429 or status >= 500:
                if hint is None:
                    hint = parse_retry_after(response.headers.get("Retry-After"))
                failed.append(_Transient(f"HTTP {status}", retry_after=hint))
                raise failed[-1]
            return response

        retrying = Retrying(
            stop=stop_after_attempt(http.retry_attempts) | _StopWhenBudgetSpent(http.retry_budget),
            wait=_WaitRetryAfterOrBackoff(
                wait_exponential_jitter(
                    multiplier=http.backoff_initial, max=http.backoff_max, jitter=http.backoff_initial
                ),
                jitter=http.backoff_initial,
            ),
            retry=retry_if_exception_type(_Transient),
            before_sleep=self._log_retry(operation),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Transient as exc:
            raise self._unavailable(exc, operation, retry_after=exc.retry_after) from None

    def _unavailable(
        self, failure: _Transient, operation: str, *, retry_after: float | None
    ) -> UpstreamUnavailable:
        logger.warning("%s %s failed: %s", self.provider, operation, failure.reason)
        return UpstreamUnavailable(
            f"{self.label} could not answer ({failure.reason}); try again shortly.",
            provider=self.provider,
            retry_after=retry_after,
            extra={"reason": failure.reason, "operation": operation},
        )

    def _take_rate_limit(self, bucket: str, tokens: float, operation: str) -> None:
        take_rate_limit(
            provider=self.provider, label=self.label, bucket=bucket, tokens=tokens, operation=operation
        )

    def _observe(self, operation: str, outcome: str, started: float) -> None:
        UPSTREAM_REQUESTS.labels(self.provider, operation, outcome).inc()
        UPSTREAM_SECONDS.labels(self.provider, operation).observe(time.monotonic() - started)

    def _log_retry(self, operation: str) -> Callable[[RetryCallState], None]:
        def log(retry_state: RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            logger.info(
                "%s %s attempt %d failed (%s); retrying in %.2fs",
                self.provider,
                operation,
                retry_state.attempt_number,
                getattr(exc, "reason", exc),
                retry_state.upcoming_sleep,
            )

        return log


def take_rate_limit(*, provider: str, label: str, bucket: str, tokens: float, operation: str) -> None:
    """Wait for ``tokens`` of the shared rate limit ``bucket``, or raise ``RateLimited``."""
    with rate_limit_refusals(provider=provider, label=label, bucket=bucket, operation=operation):
        try:
            ratelimit.acquire(bucket, tokens)
        except RateLimitExceeded:
            UPSTREAM_REQUESTS.labels(provider, operation, "rate_limited").inc()
            raise


@contextmanager
def rate_limit_refusals(*, provider: str, label: str, bucket: str, operation: str) -> Iterator[None]:
    """Turn the shared rate limiter's refusal, or its absence, into ``RateLimited``."""
    try:
        yield
    except RateLimitExceeded as exc:
        raise RateLimited(
            f"Too many {label} requests right now; try again in {exc.wait:.0f}s.",
            provider=provider,
            retry_after=exc.wait,
            extra={"reason": "rate_limited", "operation": operation},
        ) from None
    except RedisError:
        # Without the shared limiter nobody can know the upstream's budget: do not call it.
        logger.exception("rate limiter unavailable for %s", bucket)
        raise RateLimited(
            "The rate limiter is unavailable; try again shortly.",
            provider=provider,
            extra={"reason": "rate_limiter_unavailable", "operation": operation},
        ) from None
