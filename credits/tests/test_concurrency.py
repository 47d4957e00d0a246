"""Money under real concurrency: PostgreSQL, real threads, one connection each.

Every worker thread waits at a barrier so the operations hit the database
together, and closes its connection when done.
"""

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from accounts.tests.factories import UserFactory
from credits import selectors, services
from credits.errors import IdempotencyKeyReused, InsufficientCredits
from credits.models import CreditAccount, CreditHold, LedgerEntry, Operation
from credits.tests.factories import funded_user

# Up to 100 connections each: never two of them at once, in any xdist worker (root conftest.py).
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.exclusive("postgres-connections"),
    pytest.mark.slow,
]

Kind = LedgerEntry.Kind
CALLERS = 100


def free_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity)"
        )
        return int(cursor.fetchone()[0])


def thread_count(wanted: int) -> int:
    """As many threads as callers, unless the shared server has fewer
    connections to spare (other test runs use it too): then fewer threads,
    each making several calls, all released together."""
    return max(8, min(wanted, free_connections() - 10))


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on real threads released together; each result is the
    call's return value or the exception it raised."""
    threads_wanted = thread_count(len(calls))
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(threads_wanted)

    def worker(indexes: list[int]) -> None:
        try:
            barrier.wait(timeout=30)
            for index in indexes:
                try:
                    results[index] = calls[index]()
                except Exception as exc:
                    results[index] = exc
        finally:
            connection.close()

    shares: list[list[int]] = [list(range(i, len(calls), threads_wanted)) for i in range(threads_wanted)]
    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a worker thread hung"
    return results


def ledger_sum(user) -> int:
    return LedgerEntry.objects.filter(account__user=user).aggregate(s=Sum("amount"))["s"] or 0


def balance_of(user) -> int:
    return CreditAccount.objects.get(user=user).balance


@pytest.fixture(params=["single_statement", "orm"])
def posting_path(request, settings):
    settings.CREDITS_SINGLE_STATEMENT = request.param == "single_statement"
    return request.param


@pytest.fixture(autouse=True)
def _prices():
    # A transactional test database is flushed between tests: set the prices
    # these tests rely on instead of trusting the data migration's rows.
    services.price_set(operation=Operation.ASIN_LOOKUP, credits=1)
    services.price_set(operation=Operation.FNSKU_CONVERSION, credits=2)


def test_100_concurrent_charges_against_37_credits(posting_path):
    user = funded_user(37)

    results = run_concurrently(
        [
            lambda: services.credits_charge(
                user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=f"charge-{uuid.uuid4().hex}"
            )
            for _ in range(CALLERS)
        ]
    )

    charged = [r for r in results if isinstance(r, LedgerEntry)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(charged) == 37, [r for r in results if not isinstance(r, LedgerEntry | InsufficientCredits)]
    assert len(refused) == 63
    assert balance_of(user) == 0
    assert ledger_sum(user) == 0
    assert LedgerEntry.objects.filter(account__user=user, kind=Kind.CHARGE).count() == 37
    # Each successful charge saw its own balance: 36, 35, ..., 0, once each.
    assert sorted(entry.balance_after for entry in charged) == list(range(37))


def test_same_key_sent_concurrently_charges_once(posting_path):
    user = funded_user(50)
    key = f"retry-{uuid.uuid4().hex}"

    results = run_concurrently(
        [
            lambda: services.credits_charge(
                user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=key
            )
            for _ in range(30)
        ]
    )

    assert all(isinstance(r, LedgerEntry) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert balance_of(user) == 48
    assert LedgerEntry.objects.filter(account__user=user, kind=Kind.CHARGE).count() == 1
    assert ledger_sum(user) == 48


def test_refund_sent_concurrently_refunds_once(posting_path):
    user = funded_user(10)
    charge = services.credits_charge(user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key="c-1")

    results = run_concurrently([lambda: services.credits_refund(charge=charge) for _ in range(20)])

    assert all(isinstance(r, LedgerEntry) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert balance_of(user) == 10
    assert LedgerEntry.objects.filter(account__user=user, kind=Kind.REFUND).count() == 1
    assert ledger_sum(user) == 10


def test_first_charges_of_a_user_without_account_open_one_account_with_one_bonus(settings):
    settings.SIGNUP_FREE_CREDITS = 5
    user = UserFactory()

    results = run_concurrently(
        [
            lambda: services.credits_charge(
                user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=f"first-{uuid.uuid4().hex}"
            )
            for _ in range(12)
        ]
    )

    assert sum(isinstance(r, LedgerEntry) for r in results) == 5, results
    assert sum(isinstance(r, InsufficientCredits) for r in results) == 7
    assert CreditAccount.objects.filter(user=user).count() == 1
    assert LedgerEntry.objects.filter(account__user=user, kind=Kind.GRANT).count() == 1
    assert balance_of(user) == 0 == ledger_sum(user)


def test_concurrent_holds_never_overdraw(posting_path):
    user = funded_user(100)

    results = run_concurrently(
        [
            lambda i=i: services.credits_hold(
                user=user, amount=30, reference=f"job:{i}", idempotency_key=f"job-{i}-hold"
            )
            for i in range(10)
        ]
    )

    holds = [r for r in results if isinstance(r, CreditHold)]
    assert len(holds) == 3
    assert sum(isinstance(r, InsufficientCredits) for r in results) == 7
    assert CreditHold.objects.count() == 3
    assert balance_of(user) == 10 == ledger_sum(user)


def test_randomized_mixed_operations_reconcile(posting_path):
    rng = random.Random(20240611)  # fixed seed: the same mix of calls every run
    users = [funded_user(rng.randint(5, 60)) for _ in range(4)]
    for user in users:  # a hold that stays open while everything else runs
        services.credits_hold(user=user, amount=5, reference="job:open", idempotency_key="job-open")
    charges: list[LedgerEntry] = []
    charges_lock = threading.Lock()
    # A small key space shared by all users: many replays, concurrent or not,
    # some of them for another operation (refused as a reused key).
    replay_keys = [f"replayed-{i}" for i in range(40)]

    def charge(user, operation: str, key: str) -> LedgerEntry:
        entry = services.credits_charge(user=user, operation=operation, idempotency_key=key)
        with charges_lock:
            charges.append(entry)
        return entry

    def refund_one(pick: float) -> LedgerEntry | None:
        with charges_lock:
            if not charges:
                return None
            entry = charges[int(pick * len(charges))]
        return services.credits_refund(charge=entry, reason="random refund")

    def hold_and_settle(user, key: str, amount: int, used: int) -> CreditHold:
        hold = services.credits_hold(user=user, amount=amount, reference=key, idempotency_key=key)
        return services.credits_settle_hold(hold=hold, used=used)

    operations = [Operation.ASIN_LOOKUP, Operation.FNSKU_CONVERSION]
    actions = ["charge", "replay", "refund", "grant", "adjust", "hold"]
    calls: list[Callable[[], Any]] = []
    for i in range(240):
        user = rng.choice(users)
        action = rng.choices(actions, weights=[8, 4, 3, 2, 2, 2])[0]
        if action == "charge":
            calls.append(partial(charge, user, rng.choice(operations), f"charge-{i}"))
        elif action == "replay":
            calls.append(partial(charge, user, rng.choice(operations), rng.choice(replay_keys)))
        elif action == "refund":
            calls.append(partial(refund_one, rng.random()))
        elif action == "grant":
            amount = rng.randint(1, 20)
            key = f"grant-{rng.choice(replay_keys)}-{amount}"
            calls.append(partial(services.credits_grant, user=user, amount=amount, idempotency_key=key))
        elif action == "adjust":
            amount = rng.choice([-7, -3, 4, 9])
            calls.append(
                partial(services.credits_adjust, user=user, amount=amount, reason="random", actor=None)
            )
        else:
            amount = rng.randint(1, 8)
            calls.append(partial(hold_and_settle, user, f"job-{i}", amount, rng.randint(0, amount)))

    # Charges made before the burst, so the refunds have something to refund however many of the
    # calls start at once (with enough connections all 240 do, before any charge in the mix).
    for index, user in enumerate(users):
        services.credits_grant(user=user, amount=2, idempotency_key=f"before-{index}")
        charge(user, Operation.ASIN_LOOKUP, f"before-{index}-a")
        charge(user, Operation.ASIN_LOOKUP, f"before-{index}-b")

    results = run_concurrently(calls)

    expected_refusals = (InsufficientCredits, IdempotencyKeyReused)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, expected_refusals)]
    assert not unexpected, unexpected
    assert sum(isinstance(r, LedgerEntry) for r in results) > 100
    assert sum(isinstance(r, CreditHold) for r in results) > 0
    assert selectors.accounts_out_of_balance() == []
    call_command("reconcile_credits")  # raises CommandError (a non-zero exit) on any difference
    for user in users:
        assert balance_of(user) >= 0
        assert balance_of(user) == ledger_sum(user)
    refunds = Counter(LedgerEntry.objects.filter(kind=Kind.REFUND).values_list("refund_of_id", flat=True))
    assert refunds
    assert all(count == 1 for count in refunds.values())
    for hold in CreditHold.objects.all():
        assert 0 <= hold.used + hold.released <= hold.amount
        if hold.status == CreditHold.Status.SETTLED:
            assert hold.used + hold.released == hold.amount
        released = (
            LedgerEntry.objects.filter(hold=hold, kind=Kind.RELEASE).aggregate(s=Sum("amount"))["s"] or 0
        )
        assert released == hold.released
