from collections.abc import Iterator

import pytest

from billing.tests.stripe_fakes import SECRET_KEY, WEBHOOK_SECRET, StripeStandIn, start_stand_in


@pytest.fixture(autouse=True)
def _billing_settings(settings) -> None:
    # Balances in these tests are the ones they set up; the bonus has its own tests.
    settings.SIGNUP_FREE_CREDITS = 0
    # The embedded default (sandbox checkout) unless a test brings the Stripe stand-in.
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = "https://api.stripe.com"
    settings.BILLING_SANDBOX_CHECKOUT = True


@pytest.fixture
def stripe_api(settings) -> Iterator[StripeStandIn]:
    """Stripe's API answered by a local HTTP server; the stripe library reaches
    it through STRIPE_API_BASE, with a Stripe key configured."""
    stand_in, server = start_stand_in()
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = stand_in.base_url
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
