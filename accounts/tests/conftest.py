from collections.abc import Iterator

import pytest

from accounts import services


@pytest.fixture(autouse=True)
def _forget_key_touches() -> Iterator[None]:
    # Database ids can be reused between tests (SQLite, rolled-back rows);
    # the per-process "last touched" memory must not leak across them.
    services._last_touch.clear()
    yield
    services._last_touch.clear()
