"""Stripe settings of the billing app, read here and nowhere else.

``STRIPE_SECRET_KEY`` empty means the embedded default: no real payments, and
Buy goes to the platform's own sandbox checkout (when
``BILLING_SANDBOX_CHECKOUT`` allows it; on by default only with DEBUG, so a
production deploy that forgot its key sells nothing for free).
``STRIPE_API_BASE`` is where the ``stripe`` library sends its requests: Stripe
itself by default, a local stand-in in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import stripe
from django.conf import settings

# Stripe's own default: a signature older than this many seconds is refused,
# so a captured delivery cannot be replayed later.
WEBHOOK_TOLERANCE_SECONDS = 300
# Seconds the Checkout Session call may take; the library retries connection
# errors with the same idempotency key, so a retry never opens a second session.
API_TIMEOUT_SECONDS = 20.0
API_MAX_NETWORK_RETRIES = 2


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str
    webhook_secret: str
    api_base: str
    sandbox_allowed: bool

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
    return StripeConfig(
        secret_key=settings.STRIPE_SECRET_KEY,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        api_base=settings.STRIPE_API_BASE.rstrip("/"),
        sandbox_allowed=settings.BILLING_SANDBOX_CHECKOUT,
    )


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
