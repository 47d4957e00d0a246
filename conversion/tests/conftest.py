from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from conversion.tests.catalogue_stub import real_catalogue  # noqa: F401 (a fixture for the tests here)
from products.providers.sandbox import catalogue


@pytest.fixture(autouse=True)
def _clean_shared_state() -> None:
    cache.delete_pattern("*")  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fast_backoff(settings: Any) -> None:
    settings.UPSTREAM_RETRY_BACKOFF = 0.01
    settings.UPSTREAM_RETRY_BACKOFF_MAX = 0.05
    settings.PRODUCT_PROVIDERS = ["sandbox"]


def lookalike_pair() -> tuple[str, str, str, str]:
    """Two catalogue products whose titles differ only in the last word(s) (a colour or size):
    (asin_a, title_a, asin_b, title_b), titles without the sample marker."""
    by_stem: dict[str, list[tuple[str, str]]] = {}
    for asin, title in catalogue():
        stem, _, variant = title.removeprefix("[SAMPLE] ").rpartition(", ")
        by_stem.setdefault(stem, []).append((asin, variant))
    for stem, items in sorted(by_stem.items()):
        variants = {v for _, v in items}
        if len(items) == 2 and len(variants) == 2:
            (a, va), (b, vb) = sorted(items)
            return a, f"{stem}, {va}", b, f"{stem}, {vb}"
    raise AssertionError("the sandbox catalogue has no look-alike pair")
