# The bulk tests use products' test fixtures (the outside world over HTTP, fast retries,
# a clean cache): the same ones, not copies.
from products.tests.conftest import (  # noqa: F401
    _clean_shared_state,
    _fast_backoff,
    keepa_settings,
    rsps,
    spapi_settings,
)
