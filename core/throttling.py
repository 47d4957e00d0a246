"""API rate limits: one token bucket per caller and budget, shared by every process through Redis.

Two budgets, each configured in settings as ``"<requests>/<period>"``:

- ``API_RATE_METERED`` for the operations that charge credits (a view's handler marked
  ``@metered_operation``),
- ``API_RATE_FREE`` for every other API call;

each counted per API key (so one integration cannot starve another) and per
user across all their keys and their signed-in session (``API_RATE_USER_METERED``,
``API_RATE_USER_FREE``), so more keys do not buy a bigger budget. Anonymous calls
(the Stripe webhook, the schema) are not limited here: they are either refused by
authentication first or come from a party that authenticates otherwise.

A check is one EVALSHA of the shared token-bucket script
(core/ratelimit.py) over the caller's buckets, all or nothing and asked to
wait for nothing: one Redis round trip and no database query per request. For
an API key, authentication makes that same call with the key's revocation
marker as its veto (``api_call_reserve``), so a key is checked and counted in
one round trip. A
refused request reserves nothing, and DRF checks throttles before the view
runs, so a 429 never charges credits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.ratelimit import RateLimit, RateLimitExceeded, TokenBucket, reserve_all

if TYPE_CHECKING:  # DRF's views import this module through its settings
    from rest_framework.views import APIView

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])

# The attribute ``metered_operation`` sets on a view's handler.
METERED_ATTR = "metered_operation"


def metered_operation(handler: HandlerT) -> HandlerT:
    """Declare a view's handler (``post``...) an operation that charges credits (or holds them):
    its calls count against the metered budgets instead of the free ones. A new metered
    endpoint marks its handler; nothing else lists them."""
    setattr(handler, METERED_ATTR, True)
    return handler


def is_metered(view_class: type[Any] | None, method: str | None) -> bool:
    """Whether ``method`` of ``view_class`` is marked ``@metered_operation``."""
    if view_class is None or not method:
        return False
    handler = getattr(view_class, method.lower(), None)
    return bool(getattr(handler, METERED_ATTR, False))


_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_PERIODS["d"] = _PERIODS["day"] = 86400


@lru_cache(maxsize=16)
def parse_rate(rate: str) -> RateLimit:
    """``"600/min"`` -> 10 tokens a second, up to 600 saved up (a full period's worth)."""
    try:
        amount_text, period_text = rate.strip().split("/")
        amount = int(amount_text)
        period = _PERIODS[period_text.strip().lower()]
    except (ValueError, KeyError):
        raise ValueError(
            f"Invalid API rate {rate!r}: expected '<requests>/<s|min|hour|day>', e.g. '600/min'."
        ) from None
    if amount < 1:
        raise ValueError(f"Invalid API rate {rate!r}: at least one request per period.")
    return RateLimit(rate=amount / period, burst=amount)


def operation_scope(request: Request) -> str:
    match = request.resolver_match
    if match is not None and is_metered(getattr(match.func, "view_class", None), request.method):
        return "metered"
    return "free"


# Set on a DRF request by API-key authentication, which reserves the call's tokens in
# the same round trip as its revocation check: the seconds to wait when refused, or None.
RESERVED_ATTR = "_api_rate_refused_wait"
_NOT_RESERVED = object()


def api_call_reserve(
    request: Request, *, user_pk: int, key_id: int | None, veto_key: str | None = None
) -> float | None:
    """Take one token for this call from the caller's buckets (the API key's, or the
    signed-in session's when ``key_id`` is None, and the user's), all or nothing;
    returns None, or the seconds to wait when refused.

    With ``veto_key``, nothing is reserved and ``ReservationVetoed`` is raised if that
    Redis key exists (a revoked API key's marker), in the same round trip. A caller
    that reserves before the throttles run keeps the answer on the request under
    ``RESERVED_ATTR`` for ``ApiRateThrottle``."""
    scope = operation_scope(request)
    metered = scope == "metered"
    client = "session" if key_id is None else f"key:{key_id}"
    buckets = [
        _bucket(
            f"api:{scope}:user:{user_pk}",
            settings.API_RATE_USER_METERED if metered else settings.API_RATE_USER_FREE,
        ),
        # The client: the API key, or the signed-in browser session.
        _bucket(
            f"api:{scope}:{client}:user:{user_pk}",
            settings.API_RATE_METERED if metered else settings.API_RATE_FREE,
        ),
    ]
    try:
        reserve_all(buckets, 1, max_wait=0, veto_key=veto_key)
    except RateLimitExceeded as exc:
        return exc.wait
    return None


def _bucket(name: str, rate: str) -> TokenBucket:
    return TokenBucket(name, parse_rate(rate))


class ApiRateThrottle(BaseThrottle):
    """DRF throttle (REST_FRAMEWORK's default) for both budgets; see the module docstring."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return True
        # Reserved by authentication already (an API key), once; else here (a session).
        reserved = request.__dict__.pop(RESERVED_ATTR, _NOT_RESERVED)
        if reserved is _NOT_RESERVED:
            # An API key's principal (accounts.selectors.ApiKeyPrincipal) has its key's id;
            # a session has none.
            key_id: int | None = getattr(request.auth, "key_id", None)
            reserved = api_call_reserve(request, user_pk=user.pk, key_id=key_id)
        self._wait = reserved
        return self._wait is None

    def wait(self) -> float | None:
        # Whole seconds (Retry-After), never 0: "retry now" would be refused again.
        return None if self._wait is None else max(1, math.ceil(self._wait))
