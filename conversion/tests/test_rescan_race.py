"""Rescans sent at once (two taps, two tabs, a retry): PostgreSQL, real threads, one connection each.

The same user converting the same code with the same label text and marketplace while the first
conversion is still running waits for it and answers from it, uncharged: one charge, one row.
The resolution is slowed down (it sleeps before resolving) so every caller overlaps the first.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from conversion import convert
from conversion.models import Conversion
from conversion.tests.conftest import lookalike_pair
from core.api_errors import http_status
from core.errors import DomainError
from core.shared_state import redis_client
from credits import services
from credits.models import LedgerEntry, Operation
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from credits.tests.test_concurrency import run_concurrently

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.exclusive("postgres-connections"),
    pytest.mark.slow,
]

PRICE = 2
CALLERS = 10


@pytest.fixture(autouse=True)
def _prices() -> None:
    # A transactional test database is flushed between tests: set the price these tests rely on.
    services.price_set(operation=Operation.FNSKU_CONVERSION, credits=PRICE)


@pytest.fixture
def slow_resolution(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Each resolution sleeps this long (seconds) first; returns the list to change it."""
    delay = [0.8]
    real = convert.conversion_resolve

    def slow(*args: Any, **kwargs: Any) -> convert.Outcome:
        time.sleep(delay[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(convert, "conversion_resolve", slow)
    return delay


def kinds(user) -> list[str]:
    """The user's ledger entries since their funding (charges and refunds)."""
    entries = LedgerEntry.objects.filter(account__user=user).exclude(kind=LedgerEntry.Kind.GRANT)
    return sorted(entries.values_list("kind", flat=True))


@pytest.mark.parametrize("keys", ["no_key", "a_new_key_each"])
def test_identical_conversions_sent_at_once_charge_once(slow_resolution, keys):
    user = funded_user(credits=50)
    _, title_a, _, _ = lookalike_pair()

    def call() -> convert.ConversionResult:
        key = uuid.uuid4().hex if keys == "a_new_key_each" else None
        return convert.fnsku_convert(user=user, fnsku="X001TWOTAP", label_text=title_a, idempotency_key=key)

    results = run_concurrently([call] * CALLERS)

    errors = [r for r in results if not isinstance(r, convert.ConversionResult)]
    assert not errors, errors
    assert Conversion.objects.count() == 1
    first = Conversion.objects.get()
    assert {r.conversion.pk for r in results} == {first.pk}
    charged = [r for r in results if r.body()["charged"]]
    rescans = [r for r in results if r.rescan]
    assert len(charged) == 1
    assert len(rescans) == CALLERS - 1
    assert all(r.body()["replayed_from"] == first.pk for r in rescans)
    assert kinds(user) == ["charge"]
    assert balance_get(user=user) == 50 - PRICE
    assert first.credits_charged == PRICE


def test_the_same_key_sent_at_once_charges_once_and_replays(slow_resolution):
    user = funded_user(credits=50)
    _, title_a, _, _ = lookalike_pair()
    key = uuid.uuid4().hex

    results = run_concurrently(
        [
            lambda: convert.fnsku_convert(
                user=user, fnsku="X001SAMEKY", label_text=title_a, idempotency_key=key
            )
        ]
        * CALLERS
    )

    answers = [r for r in results if isinstance(r, convert.ConversionResult)]
    assert len(answers) == CALLERS, [r for r in results if r not in answers]
    assert Conversion.objects.count() == 1
    assert sum(1 for r in answers if r.body()["charged"]) == 1
    # The others waited, then found the key used: the key's replay.
    assert sum(1 for r in answers if r.replayed) == CALLERS - 1
    assert kinds(user) == ["charge"]


def test_different_label_texts_at_once_are_separate_conversions(slow_resolution):
    user = funded_user(credits=50)
    _, title_a, _, title_b = lookalike_pair()

    results = run_concurrently(
        [
            lambda label=label: convert.fnsku_convert(user=user, fnsku="X001TWOLAB", label_text=label)
            for label in (title_a, title_b, title_a, title_b)
        ]
    )

    assert all(isinstance(r, convert.ConversionResult) for r in results), results
    assert Conversion.objects.count() == 2
    assert sorted(r.rescan for r in results) == [False, False, True, True]
    assert kinds(user) == ["charge", "charge"]


def test_other_users_converting_the_same_code_at_once_each_pay(slow_resolution):
    users = [funded_user(credits=10) for _ in range(3)]
    _, title_a, _, _ = lookalike_pair()

    results = run_concurrently(
        [lambda u=u: convert.fnsku_convert(user=u, fnsku="X001MANYUS", label_text=title_a) for u in users]
    )

    assert not any(r.rescan for r in results)
    assert Conversion.objects.count() == 3
    assert all(balance_get(user=u) == 10 - PRICE for u in users)


def test_a_code_not_found_sent_at_once_is_refunded_to_each(slow_resolution):
    user = funded_user(credits=50)
    slow_resolution[0] = 0.3

    results = run_concurrently([lambda: convert.fnsku_convert(user=user, fnsku="X00NOTHERE")] * 4)

    # Nothing answered, so nothing to rescan from: each ran in turn, was charged and refunded.
    assert all(isinstance(r, DomainError) and http_status(r) == 404 for r in results), results
    assert Conversion.objects.filter(status="not_found").count() == 4
    assert kinds(user) == ["charge"] * 4 + ["refund"] * 4
    assert balance_get(user=user) == 50


def test_waiting_longer_than_the_rescan_wait_is_409_and_not_charged(slow_resolution, settings):
    settings.CONVERSION_RESCAN_WAIT = 1
    slow_resolution[0] = 3.0
    user = funded_user(credits=50)
    _, title_a, _, _ = lookalike_pair()

    results = run_concurrently(
        [lambda: convert.fnsku_convert(user=user, fnsku="X001LONGWT", label_text=title_a)] * 2
    )

    answered = [r for r in results if isinstance(r, convert.ConversionResult)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(answered) == len(refused) == 1
    assert (http_status(refused[0]), refused[0].code, refused[0].retry_after) == (
        409,
        "conversion_in_progress",
        1,
    )
    assert kinds(user) == ["charge"]
    # Once the first has finished, the retry is a rescan, uncharged.
    again = convert.fnsku_convert(user=user, fnsku="X001LONGWT", label_text=title_a)
    assert again.rescan
    assert again.conversion.pk == answered[0].conversion.pk
    assert kinds(user) == ["charge"]


def test_a_flight_left_by_a_dead_request_expires_and_the_next_one_runs(settings):
    user = funded_user(credits=50)
    _, title_a, _, _ = lookalike_pair()
    flight = convert._RescanFlight(user.pk, "X001DEADRQ", "US", title_a, hold_seconds=1)
    flight.hold_ms = 600  # a dead request's lock, expiring by itself
    assert flight.take()

    started = time.monotonic()
    result = convert.fnsku_convert(user=user, fnsku="X001DEADRQ", label_text=title_a)

    assert time.monotonic() - started >= 0.3  # it waited for the lock to expire
    assert not result.rescan
    assert result.body()["charged"]
    assert redis_client().get(flight.key) is None  # the lock is released after the conversion
    assert kinds(user) == ["charge"]
