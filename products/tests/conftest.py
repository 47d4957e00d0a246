from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.cache import cache

FIXTURES = Path(__file__).resolve().parent / "fixtures"

KEEPA_KEY = "test-keepa-key-0123456789"
KEEPA_PRODUCT_URL = "https://api.keepa.com/product"
LWA_URL = "https://api.amazon.com/auth/o2/token"
SPAPI_NA = "https://sellingpartnerapi-na.amazon.com"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(autouse=True)
def _clean_shared_state() -> None:
    # The root conftest cleans up after each test; also start clean, in case
    # a manual run left breaker or rate-limit state under this key prefix.
    cache.delete_pattern("*")  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fast_backoff(settings: Any) -> None:
    """Same retry policy, shorter sleeps: tests that measure waits set their own values."""
    settings.UPSTREAM_RETRY_BACKOFF = 0.01
    settings.UPSTREAM_RETRY_BACKOFF_MAX = 0.05


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """The outside world over HTTP; any request not registered fails as a connection error."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def keepa_settings(settings: Any) -> Any:
    settings.KEEPA_API_KEY = KEEPA_KEY
    settings.KEEPA_API_BASE = "https://api.keepa.com"
    return settings


@pytest.fixture
def spapi_settings(settings: Any) -> Any:
    settings.SPAPI_CLIENT_ID = "amzn1.application-oa2-client.test"
    settings.SPAPI_CLIENT_SECRET = "test-client-secret"
    settings.SPAPI_REFRESH_TOKEN = "Atzr|test-refresh-token"
    settings.LWA_TOKEN_URL = LWA_URL
    settings.SPAPI_ENDPOINT = ""
    return settings
