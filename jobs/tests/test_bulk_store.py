"""Many products at once (products/store.py): cache, database, upstream batches, single-flight."""

import json
import threading
import time

import pytest

from core.shared_state import redis_client
from jobs.tests.bulk_helpers import NOT_FOUND, OUTAGE, UpstreamSpy, asins
from products.marketplaces import marketplace_get
from products.models import Product, ProductSnapshot
from products.providers import ProductNotFound, UpstreamUnavailable
from products.providers.sandbox import SandboxProvider
from products.store import (
    CACHE,
    DATABASE,
    UPSTREAM,
    Fetched,
    _keys,
    product_record_bytes,
    product_records_many,
    product_store,
    product_store_many,
    upstream_not_called,
)

pytestmark = pytest.mark.django_db
US = marketplace_get("US")


def test_records_come_from_the_cache_the_database_and_the_upstream_in_one_batch(monkeypatch):
    cached, stored, fresh = asins(1), asins(1, start=1), asins(3, start=2)
    product_record_bytes(asin=cached[0], marketplace=US)  # cached (and stored)
    product_store(record=SandboxProvider()._record(stored[0], US))  # stored only
    spy = UpstreamSpy(monkeypatch)

    found = product_records_many(asins=[*cached, *stored, *fresh, fresh[0]], marketplace=US)

    assert {asin: f.source for asin, f in found.items() if isinstance(f, Fetched)} == {
        cached[0]: CACHE,
        stored[0]: DATABASE,
        **dict.fromkeys(fresh, UPSTREAM),
    }
    assert spy.batches == [fresh]  # one upstream call, for the three nobody had
    for asin, fetched in found.items():
        assert json.loads(fetched.body)["asin"] == asin
    # Now cached: a single lookup is served from the cache.
    assert product_record_bytes(asin=fresh[1], marketplace=US).source == CACHE


def test_upstream_batches_follow_the_providers_batch_size(monkeypatch, settings):
    settings.PROVIDER_RATE_LIMITS = "sandbox=1000/10"  # the sandbox's batch is what its bucket holds
    spy = UpstreamSpy(monkeypatch)

    found = product_records_many(asins=asins(25), marketplace=US)

    assert [len(batch) for batch in spy.batches] == [10, 10, 5]
    assert all(isinstance(f, Fetched) for f in found.values())
    assert Product.objects.count() == 25
    assert ProductSnapshot.objects.count() == 25


def test_an_unknown_product_is_not_found_and_remembered(monkeypatch):
    spy = UpstreamSpy(monkeypatch)

    found = product_records_many(asins=[NOT_FOUND, *asins(2)], marketplace=US)
    again = product_records_many(asins=[NOT_FOUND], marketplace=US)

    assert isinstance(found[NOT_FOUND], ProductNotFound)
    assert isinstance(again[NOT_FOUND], ProductNotFound)
    assert len(spy.batches) == 1  # the second answer came from the not-found marker
    with pytest.raises(ProductNotFound):
        product_record_bytes(asin=NOT_FOUND, marketplace=US)


def test_one_asin_that_breaks_a_batch_does_not_fail_the_others(monkeypatch):
    spy = UpstreamSpy(monkeypatch)
    batch = [*asins(5), OUTAGE, *asins(2, start=5)]

    found = product_records_many(asins=batch, marketplace=US)

    assert isinstance(found[OUTAGE], UpstreamUnavailable)
    assert not upstream_not_called(found[OUTAGE])  # the upstream was asked and failed: an attempt
    assert all(isinstance(found[a], Fetched) for a in batch if a != OUTAGE)
    # Halves of halves: the outage is isolated in a few calls, not one call per ASIN.
    assert len(spy.batches) <= 2 * 3 + 1
    assert [OUTAGE] in spy.batches


def test_an_asin_another_request_is_fetching_is_waited_for(monkeypatch):
    asin = asins(1)[0]
    record_key, _, lock_key = _keys(asin, US)
    client = redis_client()
    client.set(lock_key, "someone-else", px=10_000)
    body = b'{"asin":"%s","marketplace":"US"}' % asin.encode()

    def other_fetcher_finishes() -> None:
        time.sleep(0.2)
        client.set(record_key, body)
        client.delete(lock_key)

    spy = UpstreamSpy(monkeypatch)
    thread = threading.Thread(target=other_fetcher_finishes)
    thread.start()
    found = product_records_many(asins=[asin, *asins(2, start=1)], marketplace=US)
    thread.join()

    assert found[asin] == Fetched(body, UPSTREAM)
    assert asin not in spy.asins  # not fetched a second time


def test_waiting_too_long_for_another_fetch_means_not_called(settings):
    settings.PRODUCT_LOOKUP_WAIT_SECONDS = 0.2
    asin = asins(1)[0]
    redis_client().set(_keys(asin, US)[2], "someone-else", px=10_000)

    found = product_records_many(asins=[asin], marketplace=US)

    assert isinstance(found[asin], UpstreamUnavailable)
    assert upstream_not_called(found[asin])


def test_a_lock_left_by_a_dead_fetcher_is_taken_over_when_it_expires(settings, monkeypatch):
    asin = asins(1)[0]
    redis_client().set(_keys(asin, US)[2], "dead-worker", px=150)
    spy = UpstreamSpy(monkeypatch)

    found = product_records_many(asins=[asin], marketplace=US)

    assert found[asin].source == UPSTREAM
    assert spy.asins == [asin]


def test_a_circuit_open_or_a_rate_limit_is_not_a_failed_call(settings):
    settings.PROVIDER_RATE_LIMITS = "sandbox=0.001/2"
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.1
    first, second = asins(2), asins(2, start=2)
    product_records_many(asins=first, marketplace=US)  # takes the bucket's two tokens

    found = product_records_many(asins=second, marketplace=US)

    for asin in second:
        assert isinstance(found[asin], UpstreamUnavailable)
        assert upstream_not_called(found[asin])
        assert found[asin].retry_after
        assert found[asin].retry_after > 100


def test_storing_many_records_matches_storing_them_one_by_one():
    one, many = asins(1)[0], asins(3, start=1)
    sandbox = SandboxProvider()
    single = product_store(record=sandbox._record(one, US))
    bodies = product_store_many(records=[sandbox._record(asin, US) for asin in many])
    # Stored again (a newer fetch): the row is updated, a snapshot added.
    later = SandboxProvider(clock=lambda: sandbox.clock().replace(year=2099))
    product_store_many(records=[later._record(many[0], US)])

    assert json.loads(single)["asin"] == one
    assert [json.loads(b)["asin"] for b in bodies] == many
    for asin in [one, *many]:
        product = Product.objects.get(asin=asin, marketplace="US")
        assert product.title.startswith("[SAMPLE]")
        assert product.record["asin"] == asin
    assert Product.objects.get(asin=many[0]).fetched_at.year == 2099
    assert ProductSnapshot.objects.filter(product__asin=many[0]).count() == 2
    assert ProductSnapshot.objects.count() == 5
    assert product_store_many(records=[]) == []
