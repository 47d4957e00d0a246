from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from watchlists.tests.helpers import KeepaStub, keepa_stub


@pytest.fixture(autouse=True)
def _clean_shared_state() -> None:
    cache.delete_pattern("*")  # type: ignore[attr-defined]


@pytest.fixture
def keepa(settings: Any) -> Iterator[KeepaStub]:
    with keepa_stub(settings) as stub:
        yield stub
