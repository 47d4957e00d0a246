import pytest
from redis import RedisError

from core.ratelimit import RateLimitExceeded
from products.providers import RateLimited, fba_inventory


@pytest.fixture
def client():
    return fba_inventory._SellerClient("A1SELLER")


def _refuse(exc):
    def acquire(self, tokens=1, *, max_wait):
        raise exc

    return acquire


def test_a_full_seller_bucket_is_rate_limited_with_the_wait(client, monkeypatch):
    monkeypatch.setattr(fba_inventory.TokenBucket, "acquire", _refuse(RateLimitExceeded("b", 12.0)))
    with pytest.raises(RateLimited) as caught:
        client._take_rate_limit("ignored", 1, "fba_inventory")
    assert caught.value.retry_after == 12.0
    assert caught.value.extra["reason"] == "rate_limited"
    assert caught.value.extra["operation"] == "fba_inventory"


def test_without_the_limiter_nothing_is_called(client, monkeypatch):
    monkeypatch.setattr(fba_inventory.TokenBucket, "acquire", _refuse(RedisError("down")))
    with pytest.raises(RateLimited) as caught:
        client._take_rate_limit("ignored", 1, "fba_inventory")
    assert caught.value.extra["reason"] == "rate_limiter_unavailable"
