"""Stripe settings of the billing app, each declared once (core.appsettings), read here and nowhere else.

``STRIPE_SECRET_KEY`` empty means the embedded default: no real payments, and
Buy goes to the platform's own sandbox checkout (when
``BILLING_SANDBOX_CHECKOUT`` allows it; on by default only with DEBUG, so a
production deploy that forgot its key sells nothing for free).
``STRIPE_API_BASE`` is where the ``stripe`` library sends its requests: Stripe
itself by default, a local stand-in in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import stripe
from django.core.exceptions import ImproperlyConfigured

from core.appsettings import load, setting

# Stripe's own default: a signature older than this many seconds is refused,
# so a captured delivery cannot be replayed later.
WEBHOOK_TOLERANCE_SECONDS = 300
# Seconds the Checkout Session call may take; the library retries connection
# errors with the same idempotency key, so a retry never opens a second session.
API_TIMEOUT_SECONDS = 20.0
API_MAX_NETWORK_RETRIES = 2
# Stripe accepts a Checkout Session's ``expires_at`` from 30 minutes to 24 hours after it
# receives the request, by its clock: a minute inside each bound covers the request's trip
# (and its retries) and clocks a little apart.
CHECKOUT_EXPIRY_MIN_MINUTES = 30 + 1
CHECKOUT_EXPIRY_MAX_MINUTES = 24 * 60 - 1
# The sweep closes a pending payment this long after its checkout expired: Stripe's
# checkout.session.expired (or a last-second completion) normally arrives first.
CHECKOUT_EXPIRY_SWEEP_MARGIN_MINUTES = 15
# Pending payments the sweep closes in one run, oldest first (the next run takes the rest).
CHECKOUT_EXPIRY_SWEEP_BATCH = 500


def _without_trailing_slash(url: str) -> str:
    return url.rstrip("/")


def _within_stripes_session_lifetime(minutes: Any) -> int:
    return max(CHECKOUT_EXPIRY_MIN_MINUTES, min(int(minutes), CHECKOUT_EXPIRY_MAX_MINUTES))


@dataclass(frozen=True, slots=True)
class StripeConfig:
    # Empty (the embedded default): no real payments; Buy goes to the platform's own
    # sandbox checkout, which grants credits through the same fulfilment path.
    secret_key: str = setting("STRIPE_SECRET_KEY", default="")
    # The webhook endpoint's signing secret (whsec_...); events are refused without it.
    webhook_secret: str = setting("STRIPE_WEBHOOK_SECRET", default="")
    # Where the stripe library sends API requests (a local stand-in in tests).
    api_base: str = setting(
        "STRIPE_API_BASE", default="https://api.stripe.com", clean=_without_trailing_slash
    )
    # The sandbox checkout gives credits away: on by default only with DEBUG, so a
    # production deploy without STRIPE_SECRET_KEY sells nothing rather than giving it.
    sandbox_allowed: bool = setting("BILLING_SANDBOX_CHECKOUT", default_from="DEBUG")
    # Minutes a checkout (Stripe's or the sandbox's) stays open before it is abandoned as expired;
    # held within Stripe's limits (31 to 1439).
    checkout_expiry_minutes: int = setting(
        "BILLING_CHECKOUT_EXPIRY_MINUTES", default=60, clean=_within_stripes_session_lifetime
    )

    def validate(self, settings: Mapping[str, Any]) -> None:
        """At startup: a live key needs the webhook's secret, or paid checkouts grant nothing."""
        if self.secret_key and not self.webhook_secret and not settings["DEBUG"]:
            raise ImproperlyConfigured(
                "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: paid checkouts would never "
                "grant credits. Set the webhook endpoint's signing secret (whsec_...)."
            )

    @property
    def live(self) -> bool:
        """Checkout goes to Stripe."""
        return bool(self.secret_key)

    @property
    def sandbox(self) -> bool:
        """Checkout goes to the platform's sandbox page (no real payment)."""
        return not self.secret_key and self.sandbox_allowed

    @property
    def checkout_available(self) -> bool:
        return self.live or self.sandbox


def stripe_config() -> StripeConfig:
    """The current settings (read on each call, so a test's override applies)."""
    return load(StripeConfig)


def stripe_client() -> stripe.StripeClient:
    """A client for Stripe's API with the configured key and base address."""
    config = stripe_config()
    return _client(config.secret_key, config.api_base)


@lru_cache(maxsize=8)
def _client(secret_key: str, api_base: str) -> stripe.StripeClient:
    # One client (and its HTTP connection pool) per key and base address; the
    # documented way to point the library elsewhere is ``base_addresses``.
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": api_base},
        http_client=stripe.RequestsClient(timeout=API_TIMEOUT_SECONDS),
        max_network_retries=API_MAX_NETWORK_RETRIES,
    )
