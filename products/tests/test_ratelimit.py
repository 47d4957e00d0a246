import multiprocessing
import time
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.ratelimit import RateLimit, RateLimitExceeded, ReservationVetoed, TokenBucket, reserve_all
from products import conf
from products.ratelimit import acquire
from products.tests import ratelimit_workers
from products.tests.stub_server import StubServer

PROCESSES = 4
DURATION = 2.0


def most_in_any_window(times: list[float], width: float = 1.0) -> int:
    """The largest number of ``times`` inside any window of ``width`` seconds."""
    times = sorted(times)
    most = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - width:
            start += 1
        most = max(most, end - start + 1)
    return most


def run_together(target, args: tuple, processes: int = PROCESSES) -> list:
    """Start ``processes`` workers, let them all begin at the same moment, collect their results."""
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    go, start_at = ctx.Event(), ctx.Value("d", 0.0)
    workers = [
        ctx.Process(target=target, args=(*args, ready, go, start_at, results)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            ready.get(timeout=60)
        start_at.value = time.time() + 0.3
        go.set()
        collected = [results.get(timeout=60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert all(worker.exitcode == 0 for worker in workers)
    return collected


@pytest.mark.redis
def test_processes_sharing_a_bucket_never_exceed_rate_plus_burst_in_any_second():
    rate, burst = 20.0, 5.0

    per_process = run_together(
        ratelimit_workers.hammer_bucket, (f"shared-{uuid.uuid4().hex}", rate, burst, DURATION)
    )

    granted = [t for times in per_process for t in times]
    assert most_in_any_window(granted) <= rate + burst
    # ...and the limiter does let the rate through, shared among all of them.
    assert len(granted) >= burst + rate * DURATION * 0.9
    assert sum(1 for times in per_process if times) == PROCESSES


@pytest.mark.redis
def test_processes_calling_an_upstream_keep_to_its_rate(monkeypatch):
    rate, burst = 10.0, 3.0
    monkeypatch.setenv("PROVIDER_RATE_LIMITS", f"stub={rate}/{burst}")
    monkeypatch.setenv("PROVIDER_RATE_LIMIT_MAX_WAIT", "30")

    with StubServer(lambda path: (200, {"Content-Type": "application/json"}, b"{}")) as upstream:
        sent = run_together(ratelimit_workers.hammer_upstream, (upstream.url + "/product", DURATION))
        arrivals = list(upstream.arrivals)

    # Counted where it matters: at the upstream.
    assert len(arrivals) == sum(sent)
    # The bucket bounds the grants (the test above: rate + burst in any second). A grant
    # reaches the upstream a moment later; each process sends one request at a time, so a
    # window can also hold at most one request per process granted just before it began
    # (seen on a loaded machine: 16 arrivals in a second whose grants respected the bound).
    assert most_in_any_window(arrivals) <= rate + burst + PROCESSES
    assert len(arrivals) >= burst + rate * DURATION * 0.9
    # Over the whole run, nothing beyond what the rate allows reached the upstream.
    assert len(arrivals) <= burst + rate * (DURATION + 0.5)


def test_a_full_bucket_grants_its_burst_at_once_then_the_rate():
    bucket = TokenBucket(f"t-{uuid.uuid4().hex}", RateLimit(rate=10, burst=3))

    calls = []  # (asked at, answered at, wait), on this process's clock
    for _ in range(5):
        asked = time.monotonic()
        wait = bucket.reserve(1, max_wait=10)
        calls.append((asked, time.monotonic(), wait))

    assert [wait for _, _, wait in calls[:3]] == [0, 0, 0]
    # Queued behind each other, one token every 0.1 s after the first grant: a wait is counted
    # from the moment its own call reached Redis, so the time the calls took (milliseconds, more
    # on a busy machine) comes off it. Each call reached Redis between its asking and its answer.
    first_asked, first_answered, _ = calls[0]
    for queued, (asked, answered, wait) in enumerate(calls[3:], start=1):
        slot = 0.1 * queued
        assert first_asked + slot - answered - 0.01 <= wait <= first_answered + slot - asked + 0.01


def test_acquire_waits_for_its_turn():
    bucket = TokenBucket(f"t-{uuid.uuid4().hex}", RateLimit(rate=5, burst=1))
    before_first = time.monotonic()
    bucket.acquire(1, max_wait=5)

    waited = bucket.acquire(1, max_wait=5)
    ended = time.monotonic()

    # The second token is due 0.2 s after the first grant (made after before_first); the wait is
    # counted from the second call's arrival at Redis, which the first call's round trip delays.
    assert 0.2 - (ended - before_first) - 0.01 <= waited <= 0.2 + 0.01
    assert waited > 0
    # It slept until its turn: it returned no earlier than 0.2 s after the first grant.
    assert ended - before_first >= 0.2 - 0.01


def test_a_wait_longer_than_allowed_reserves_nothing():
    bucket = TokenBucket(f"t-{uuid.uuid4().hex}", RateLimit(rate=1, burst=1))
    bucket.reserve(1, max_wait=0)

    with pytest.raises(RateLimitExceeded) as caught:
        bucket.reserve(1, max_wait=0.5)
    assert caught.value.wait == pytest.approx(1.0, abs=0.05)

    # The refusal took nothing: the next caller waits no longer than the refused one would have.
    assert bucket.reserve(1, max_wait=5) == pytest.approx(1.0, abs=0.05)


@pytest.mark.redis
def test_an_existing_veto_key_reserves_nothing_in_any_bucket():
    from core.shared_state import redis_client, shared_key

    buckets = [TokenBucket(f"t-{uuid.uuid4().hex}", RateLimit(rate=1, burst=1)) for _ in range(2)]
    veto = shared_key("veto", uuid.uuid4().hex)
    assert reserve_all(buckets, 1, max_wait=0, veto_key=veto) == 0  # absent: reserved
    redis_client().set(veto, 1)

    with pytest.raises(ReservationVetoed):
        reserve_all(buckets, 1, max_wait=5, veto_key=veto)

    # Nothing was taken: each bucket's next token is still one second after the first call.
    assert reserve_all(buckets, 1, max_wait=5) == pytest.approx(1.0, abs=0.05)


def test_more_tokens_than_the_burst_can_never_be_granted():
    bucket = TokenBucket(f"t-{uuid.uuid4().hex}", RateLimit(rate=1, burst=2))
    with pytest.raises(ValueError, match="can never be granted"):
        bucket.reserve(3, max_wait=100)


def test_acquire_uses_the_configured_limits(settings):
    settings.PROVIDER_RATE_LIMITS = "configured=0.5/1"
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT = 0.5

    started = time.monotonic()
    assert acquire("configured") == 0
    with pytest.raises(RateLimitExceeded) as caught:
        acquire("configured")
    between = time.monotonic() - started
    # The next token comes 2 s (1 / 0.5 per second) after the first grant, counted from then:
    # the time between the two calls (more on a loaded machine) comes off the wait.
    assert 2.0 - between - 0.01 <= caught.value.wait <= 2.0 + 0.01


def test_unknown_bucket_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="nosuchbucket"):
        acquire("nosuchbucket")


def test_rate_limit_settings_are_parsed_over_the_defaults():
    limits = conf._rate_limits("keepa=5/300; spapi.pricing=1 , custom=0.25/2")

    assert limits["keepa"] == RateLimit(rate=5, burst=300)
    assert limits["spapi.pricing"] == RateLimit(rate=1, burst=1)
    assert limits["custom"] == RateLimit(rate=0.25, burst=2)
    assert limits["spapi.catalog"] == conf.DEFAULT_RATE_LIMITS["spapi.catalog"]


@pytest.mark.parametrize("raw", ["keepa", "keepa=fast", "=1/1", "keepa=0/1", "keepa=1/0.5"])
def test_unreadable_rate_limit_settings_are_refused(raw):
    with pytest.raises(ImproperlyConfigured, match="PROVIDER_RATE_LIMITS"):
        conf.parse_rate_limits(raw)
