from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from conversion.tests.catalogue_stub import real_catalogue  # noqa: F401 (a fixture for the tests here)

# Upstream answers over mocked HTTP (Keepa's and SP-API's real formats): products' own fixtures.
from products.tests.conftest import keepa_settings, rsps, spapi_settings  # noqa: F401


@pytest.fixture(autouse=True)
def _clean_shared_state() -> None:
    cache.delete_pattern("*")  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _sandbox(settings: Any) -> None:
    settings.UPSTREAM_RETRY_BACKOFF = 0.01
    settings.UPSTREAM_RETRY_BACKOFF_MAX = 0.05
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    settings.BULK_RETRY_DELAY = 0
