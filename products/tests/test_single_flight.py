"""Single-flight: concurrent lookups of a product nobody has yet make one upstream call."""

import json
import threading
import time

import pytest
from django.db import connection

from core.api_errors import http_status
from core.errors import DomainError
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.services import product_lookup
from products.tests.conftest import FIXTURES, KEEPA_KEY
from products.tests.stub_server import StubServer

ASIN = "B0TESTKEEP"
KEEPA_ANSWER = (FIXTURES / "keepa" / "product-response.json").read_bytes()


def slow_keepa(path: str) -> tuple[int, dict[str, str], bytes]:
    time.sleep(0.3)  # long enough for every request to pile up behind the first
    assert path.startswith("/product?")
    return 200, {"Content-Type": "application/json"}, KEEPA_ANSWER


def run_concurrently(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_lookups_make_one_upstream_call(settings):
    settings.PRODUCT_PROVIDERS = ["keepa"]
    settings.KEEPA_API_KEY = KEEPA_KEY
    users = [funded_user(credits=3) for _ in range(50)]

    with StubServer(slow_keepa) as keepa:
        settings.KEEPA_API_BASE = keepa.url
        results = run_concurrently(50, lambda i: product_lookup(user=users[i], asin=ASIN))

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert len(keepa.arrivals) == 1
    sources = sorted(r.source for r in results)
    assert sources.count("upstream") == 50 - sources.count("cache")
    bodies = {r.record for r in results}
    assert len(bodies) == 1
    assert json.loads(bodies.pop())["asin"] == ASIN
    assert all(balance_get(user=u) == 2 for u in users)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_lookups_of_a_failing_product_fail_together_and_are_refunded(settings):
    settings.PRODUCT_PROVIDERS = ["keepa"]
    settings.KEEPA_API_KEY = KEEPA_KEY
    settings.UPSTREAM_RETRY_ATTEMPTS = 1
    users = [funded_user(credits=1) for _ in range(20)]

    def broken(path: str) -> tuple[int, dict[str, str], bytes]:
        # Long enough that all 20 (each charging first, on a loaded machine) arrive while it runs:
        # at 0.3 s one caller came 0.56 s late, after the flight had ended, and started its own.
        time.sleep(1.5)
        return 500, {}, b"upstream exploded"

    with StubServer(broken) as keepa:
        settings.KEEPA_API_BASE = keepa.url
        results = run_concurrently(20, lambda i: product_lookup(user=users[i], asin=ASIN))

    assert len(keepa.arrivals) == 1
    assert all(isinstance(r, DomainError) and http_status(r) == 503 for r in results), results
    assert all(balance_get(user=u) == 1 for u in users)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_asking_for_a_newer_record_refetches_once_and_refreshes_the_cache(settings):
    from django.utils import timezone

    from products.marketplaces import marketplace_get
    from products.store import product_record_bytes

    settings.PRODUCT_PROVIDERS = ["keepa"]
    settings.KEEPA_API_KEY = KEEPA_KEY
    market = marketplace_get("US")

    with StubServer(slow_keepa) as keepa:
        settings.KEEPA_API_BASE = keepa.url
        first = product_record_bytes(asin=ASIN, marketplace=market)
        first_fetched_at = json.loads(first.body)["fetched_at"]
        # Not newer than what is cached: the cache answers.
        assert product_record_bytes(asin=ASIN, marketplace=market, fetched_since=None).source == "cache"
        assert len(keepa.arrivals) == 1

        moment = timezone.now()
        results = run_concurrently(
            10, lambda i: product_record_bytes(asin=ASIN, marketplace=market, fetched_since=moment)
        )

    assert [r for r in results if isinstance(r, Exception)] == []
    assert len(keepa.arrivals) == 2  # ten refreshes, one upstream call
    fresh = {json.loads(r.body)["fetched_at"] for r in results}
    assert len(fresh) == 1
    assert fresh != {first_fetched_at}
    # Everyone's next lookup gets the fresh record from the cache.
    after = product_record_bytes(asin=ASIN, marketplace=market)
    assert after.source == "cache"
    assert json.loads(after.body)["fetched_at"] in fresh
