"""Stripe settings: read in one place, applied to the stripe library, unsafe production values refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from billing.conf import stripe_client, stripe_config

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-real-production-secret-key-that-is-long-enough-0123456789",
    "ALLOWED_HOSTS": "example.com",
    "EMAIL_URL": "smtp+tls://platform:mail-password@smtp.example.com:587",
    "METRICS_TOKEN": "metrics-scrape-token-0123456789abcdef",
    "SITE_URL": "https://example.com",
}


def settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.BILLING_SANDBOX_CHECKOUT, settings.STRIPE_API_BASE)"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "BILLING_"))}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_client_talks_to_the_configured_base_with_the_configured_key(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_conf"
    settings.STRIPE_API_BASE = "http://127.0.0.1:12111/"
    client = stripe_client()
    options = client._requestor._options
    assert options.api_key == "sk_test_conf"
    assert options.base_addresses["api"] == "http://127.0.0.1:12111"


def test_sandbox_only_without_a_key_and_when_allowed(settings):
    settings.STRIPE_SECRET_KEY = ""
    assert stripe_config().sandbox
    settings.BILLING_SANDBOX_CHECKOUT = False
    assert not stripe_config().sandbox
    assert not stripe_config().checkout_available
    settings.STRIPE_SECRET_KEY = "sk_live_x"
    settings.BILLING_SANDBOX_CHECKOUT = True
    assert (stripe_config().live, stripe_config().sandbox) == (True, False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "True https://api.stripe.com"), ({"DEBUG": "0", **PRODUCTION}, "False https://api.stripe.com")],
)
def test_the_sandbox_is_on_by_default_only_with_debug(env, expected):
    result = settings_in_a_fresh_process(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_production_refuses_a_stripe_key_without_a_webhook_secret():
    result = settings_in_a_fresh_process(**PRODUCTION, STRIPE_SECRET_KEY="sk_live_123")
    assert result.returncode != 0
    assert "STRIPE_WEBHOOK_SECRET" in result.stderr

    with_secret = settings_in_a_fresh_process(
        **PRODUCTION, STRIPE_SECRET_KEY="sk_live_123", STRIPE_WEBHOOK_SECRET="whsec_123"
    )
    assert with_secret.returncode == 0, with_secret.stderr
