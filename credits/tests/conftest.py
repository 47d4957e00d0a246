from collections.abc import Iterator

import pytest

from credits.selectors import price_cache_clear


@pytest.fixture(autouse=True)
def _no_signup_bonus(settings) -> None:
    # Balances in these tests are the ones they set up; the bonus has its own tests.
    settings.SIGNUP_FREE_CREDITS = 0


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    # A test's prices roll back with its transaction; the process cache must too.
    price_cache_clear()
    yield
    price_cache_clear()
