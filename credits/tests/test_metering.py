"""The one metered call (credits/metering.py): claim, charge, serve, refund if undelivered, replay;
and its batch form (``metered_batch``) with each kind of funding.

Every test runs on both ways of moving a balance: the single SQL statement
(PostgreSQL's) and the ORM's (the embedded SQLite's; on SQLite both params are it)."""

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Sum
from django_redis import get_redis_connection

from core.api_errors import error_headers, http_status
from core.errors import ConflictError, DomainError, NotFoundError, UnavailableError
from credits import services
from credits.errors import InsufficientCredits
from credits.metering import (
    REMAINING_HEADER,
    REPLAYED_HEADER,
    ChargeEach,
    JobHold,
    KeyedCharge,
    ReplayClaim,
    Unkeyed,
    metered,
    metered_batch,
)
from credits.models import CreditAccount, LedgerEntry, Operation
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
OPERATION = Operation.ASIN_LOOKUP
PRICE = 3


@pytest.fixture(params=["single_statement", "orm"])
def posting_path(request, settings):
    settings.CREDITS_SINGLE_STATEMENT = request.param == "single_statement"
    return request.param


@pytest.fixture(autouse=True)
def _price(posting_path):
    services.price_set(operation=OPERATION, credits=PRICE)


class Gone(NotFoundError):
    code = "gone"


class Down(UnavailableError):
    code = "down"


def balance_of(user) -> int:
    return CreditAccount.objects.get(user=user).balance


def assert_reconciles(user) -> None:
    total = LedgerEntry.objects.filter(account__user=user).aggregate(s=Sum("amount"))["s"] or 0
    assert balance_of(user) == total >= 0


def charges(user) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account__user=user, kind=Kind.CHARGE).order_by("pk"))


def replay_claim(user, key: str, fingerprint: str = "US:B000000001") -> ReplayClaim[dict[str, Any]]:
    return ReplayClaim(
        client=get_redis_connection("default"),
        replay_key=f"test-metering:{user.pk}:{key}",
        idempotency_key=key,
        user_id=user.pk,
        fingerprint=fingerprint,
        ledger_prefix="test",
        claim_seconds=60,
        keep_seconds=600,
        state=lambda answer: {"answer": answer},
        replay=lambda state: {**state["answer"], "replayed": True},
    )


def call(user, claim, serve=None, **kwargs):
    calls = []

    def default_serve(charge: LedgerEntry) -> dict[str, Any]:
        calls.append(charge)
        return {"charged": -charge.amount, "remaining": charge.balance_after}

    answer = metered(
        user=user, operation=OPERATION, reference="ref", claim=claim, serve=serve or default_serve, **kwargs
    )
    return answer, calls


def ledger_key(user, key: str, attempt: int) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"test:idem:{user.pk}:{digest}:{attempt}"


def test_a_delivered_call_is_charged_once_and_replayed():
    user = funded_user(10)
    key = uuid.uuid4().hex

    first, served = call(user, replay_claim(user, key))
    again, served_again = call(user, replay_claim(user, key))

    assert first == {"charged": PRICE, "remaining": 10 - PRICE}
    assert again == {**first, "replayed": True}
    assert len(served) == 1
    assert served_again == []
    assert [(c.amount, c.idempotency_key) for c in charges(user)] == [(-PRICE, ledger_key(user, key, 1))]
    assert balance_of(user) == 10 - PRICE
    assert_reconciles(user)


def test_undelivered_is_refunded_with_the_balance_on_the_error_and_the_claim_given_up():
    user = funded_user(10)
    key = uuid.uuid4().hex

    def down(charge):
        raise Down("Upstream down.")

    with pytest.raises(Down) as raised:
        call(user, replay_claim(user, key), serve=down)

    assert raised.value.extra["credits_remaining"] == 10
    assert error_headers(raised.value)[REMAINING_HEADER] == "10"
    assert balance_of(user) == 10
    refund = LedgerEntry.objects.get(account__user=user, kind=Kind.REFUND)
    assert refund.refund_of == charges(user)[0]
    assert refund.description == "down"
    # A passing outage is forgotten: a retry with the key runs, and pays, as a new attempt.
    answer, served = call(user, replay_claim(user, key))
    assert answer == {"charged": PRICE, "remaining": 10 - PRICE}
    assert len(served) == 1
    assert [c.idempotency_key for c in charges(user)] == [ledger_key(user, key, 1), ledger_key(user, key, 2)]
    assert balance_of(user) == 10 - PRICE
    assert_reconciles(user)


def test_a_404_is_refunded_and_replayed_as_it_was():
    user = funded_user(10)
    key = uuid.uuid4().hex

    def gone(charge):
        raise Gone("No such thing.", extra={"what": "B000000001"})

    with pytest.raises(Gone):
        call(user, replay_claim(user, key), serve=gone)
    with pytest.raises(DomainError) as replayed:
        call(user, replay_claim(user, key))

    error = replayed.value
    assert (http_status(error), error.code, error.message) == (404, "gone", "No such thing.")
    assert error.extra == {"what": "B000000001", "credits_remaining": 10}
    assert error_headers(error) == {REMAINING_HEADER: "10", REPLAYED_HEADER: "true"}
    assert len(charges(user)) == 1
    assert balance_of(user) == 10
    assert_reconciles(user)


def test_an_error_not_meaning_undelivered_is_not_refunded():
    user = funded_user(10)

    def broken(charge):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        call(user, Unkeyed(ledger_prefix="test"), serve=broken, refund_on=(Down,))

    assert balance_of(user) == 10 - PRICE
    assert not LedgerEntry.objects.filter(account__user=user, kind=Kind.REFUND).exists()


def test_402_charges_nothing_and_gives_the_claim_up():
    user = funded_user(PRICE - 1)
    key = uuid.uuid4().hex

    with pytest.raises(InsufficientCredits) as refused:
        call(user, replay_claim(user, key))

    assert refused.value.extra == {"balance": PRICE - 1, "price": PRICE, "operation": OPERATION}
    assert charges(user) == []
    assert get_redis_connection("default").get(f"test-metering:{user.pk}:{key}") is None
    # After a top-up the same key runs anew.
    services.credits_grant(user=user, amount=10, idempotency_key=f"top-up-{key}")
    answer, served = call(user, replay_claim(user, key))
    assert answer["charged"] == PRICE
    assert len(served) == 1
    assert_reconciles(user)


def test_the_same_key_while_the_first_call_runs_is_409_and_charges_nothing_more():
    user = funded_user(10)
    key = uuid.uuid4().hex
    seen: list[ConflictError] = []

    def serve(charge):
        with pytest.raises(ConflictError) as conflict:
            call(user, replay_claim(user, key))
        seen.append(conflict.value)
        return {"charged": -charge.amount}

    call(user, replay_claim(user, key), serve=serve)

    assert seen[0].code == "idempotency_key_in_use"
    assert error_headers(seen[0]) == {"Retry-After": "1"}
    assert len(charges(user)) == 1
    assert balance_of(user) == 10 - PRICE


def test_the_same_key_for_another_request_is_409():
    user = funded_user(10)
    key = uuid.uuid4().hex
    call(user, replay_claim(user, key, fingerprint="US:B000000001"))

    with pytest.raises(ConflictError) as conflict:
        call(user, replay_claim(user, key, fingerprint="DE:B000000001"))

    assert conflict.value.code == "idempotency_key_reused"
    assert len(charges(user)) == 1


def test_a_retry_after_the_process_died_between_charge_and_answer_finds_the_same_charge():
    user = funded_user(10)
    key = uuid.uuid4().hex

    def dies(charge):
        raise SystemExit("killed")

    with pytest.raises(SystemExit):
        call(user, replay_claim(user, key), serve=dies)
    # The dead request's claim expires by itself.
    get_redis_connection("default").delete(f"test-metering:{user.pk}:{key}")

    answer, served = call(user, replay_claim(user, key))

    assert answer == {"charged": PRICE, "remaining": 10 - PRICE}
    assert len(served) == 1
    assert served[0].idempotency_key == ledger_key(user, key, 1)
    assert len(charges(user)) == 1
    assert balance_of(user) == 10 - PRICE
    assert_reconciles(user)


def test_a_keyed_charge_is_found_again_and_never_paid_twice():
    user = funded_user(10)
    key = f"slot:{uuid.uuid4().hex}"

    first, _ = call(user, KeyedCharge(key))
    again, served = call(user, KeyedCharge(key))

    assert first == again == {"charged": PRICE, "remaining": 10 - PRICE}
    assert len(served) == 1
    assert [c.idempotency_key for c in charges(user)] == [key]

    def down(charge):
        raise Down("Upstream down.")

    refunded = f"slot:{uuid.uuid4().hex}"
    with pytest.raises(Down):
        call(user, KeyedCharge(refunded), serve=down)
    # A refunded keyed charge is not charged again: its key is the caller's, for good.
    call(user, KeyedCharge(refunded))
    assert len(charges(user)) == 2
    assert balance_of(user) == 10 - PRICE
    assert_reconciles(user)


def test_unkeyed_calls_are_charged_each_time():
    user = funded_user(10)

    call(user, Unkeyed(ledger_prefix="test"))
    call(user, Unkeyed(ledger_prefix="test"))

    keys = [c.idempotency_key for c in charges(user)]
    assert len(set(keys)) == 2
    assert all(k.startswith("test:") for k in keys)
    assert balance_of(user) == 10 - 2 * PRICE
    assert_reconciles(user)


# --- The batch form ---------------------------------------------------------------------------------


@dataclass
class Unit:
    key: str
    deliverable: bool = True


class Caller:
    """A batch caller: its record of delivered units is what ``settle`` writes (once per unit)."""

    def __init__(self) -> None:
        self.served: list[list[str]] = []
        self.delivered: dict[str, int] = {}

    def serve(self, units):
        self.served.append([u.key for u in units])
        return {u.key: u.deliverable for u in units}

    def settle(self, units, served):
        if isinstance(served, Exception):
            return [], 0
        delivered = [u for u in units if served[u.key] and u.key not in self.delivered]
        for u in delivered:
            self.delivered[u.key] = PRICE
        return delivered, len(delivered)


def charge_each(user) -> ChargeEach[Unit]:
    return ChargeEach(user=user, operation=OPERATION, reference="batch", ledger_key=lambda u: f"test:{u.key}")


def refunds(user) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account__user=user, kind=Kind.REFUND).order_by("pk"))


def test_charge_each_charges_the_delivered_units_once_and_refunds_the_others():
    user = funded_user(20)
    caller = Caller()
    units = [Unit("a"), Unit("b", deliverable=False), Unit("c")]

    batch = metered_batch(
        claim=lambda: units, funding=charge_each(user), serve=caller.serve, settle=caller.settle
    )

    assert batch is not None
    assert [u.key for u in batch.delivered] == ["a", "c"]
    assert batch.settled == 2
    assert [(c.idempotency_key, c.amount) for c in charges(user)] == [
        ("test:a", -PRICE),
        ("test:b", -PRICE),
        ("test:c", -PRICE),
    ]
    assert [(r.refund_of.idempotency_key, r.amount, r.description) for r in refunds(user)] == [
        ("test:b", PRICE, "undelivered")
    ]
    assert balance_of(user) == 20 - 2 * PRICE
    assert_reconciles(user)


def test_charge_each_refunds_the_whole_batch_when_serving_it_fails():
    user = funded_user(20)
    seen = []

    def crash(units):
        raise RuntimeError("processor bug")

    def settle(units, served):
        seen.append(served)
        return [], None

    batch = metered_batch(
        claim=lambda: [Unit("a"), Unit("b")], funding=charge_each(user), serve=crash, settle=settle
    )

    assert batch is not None
    assert isinstance(batch.error, RuntimeError)
    assert seen == [batch.error]
    assert len(refunds(user)) == 2
    assert balance_of(user) == 20
    assert_reconciles(user)


def test_charge_each_takes_nothing_when_the_balance_cannot_cover_the_batch():
    user = funded_user(2 * PRICE)
    caller = Caller()

    with pytest.raises(InsufficientCredits):
        metered_batch(
            claim=lambda: [Unit("a"), Unit("b"), Unit("c")],
            funding=charge_each(user),
            serve=caller.serve,
            settle=caller.settle,
        )

    assert caller.served == []
    assert caller.delivered == {}
    assert balance_of(user) == 2 * PRICE
    assert_reconciles(user)


def test_charge_each_served_again_after_a_crash_finds_its_charges():
    user = funded_user(20)
    caller = Caller()

    def crash_before_settling(units, served):
        raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        metered_batch(
            claim=lambda: [Unit("a"), Unit("b")],
            funding=charge_each(user),
            serve=caller.serve,
            settle=crash_before_settling,
        )
    metered_batch(
        claim=lambda: [Unit("a"), Unit("b")],
        funding=charge_each(user),
        serve=caller.serve,
        settle=caller.settle,
    )

    assert caller.served == [["a", "b"], ["a", "b"]]
    assert caller.delivered == {"a": PRICE, "b": PRICE}
    assert len(charges(user)) == 2
    assert refunds(user) == []
    assert balance_of(user) == 20 - 2 * PRICE
    assert_reconciles(user)


def test_a_job_hold_funds_every_batch_and_returns_the_undelivered_credits_when_closed():
    user = funded_user(20)
    caller = Caller()
    hold = JobHold.open(
        user=user,
        amount=4 * PRICE,
        reference="job:1",
        idempotency_key=f"job:{uuid.uuid4().hex}:hold",
        operation=OPERATION,
    )
    assert balance_of(user) == 20 - 4 * PRICE
    chunks = [[Unit("a"), Unit("b", deliverable=False)], [Unit("c"), Unit("d")]]

    for chunk in chunks:
        metered_batch(
            claim=lambda chunk=chunk: chunk, funding=JobHold(), serve=caller.serve, settle=caller.settle
        )
    # A chunk redelivered after it was settled changes nothing.
    metered_batch(claim=lambda: chunks[1], funding=JobHold(), serve=caller.serve, settle=caller.settle)
    # The hold is the batches' only ledger entry until it is closed.
    assert sorted(LedgerEntry.objects.filter(account__user=user).values_list("kind", flat=True)) == [
        Kind.GRANT,
        Kind.HOLD,
    ]
    JobHold.close(hold=hold, used=sum(caller.delivered.values()))

    entries = LedgerEntry.objects.filter(account__user=user, hold=hold).order_by("pk")
    assert [(e.kind, e.amount, e.idempotency_key) for e in entries] == [
        (Kind.HOLD, -4 * PRICE, hold.idempotency_key),
        (Kind.RELEASE, PRICE, f"{hold.idempotency_key}:settle"),
    ]
    assert balance_of(user) == 20 - 3 * PRICE
    assert_reconciles(user)


def test_an_empty_claim_does_nothing():
    user = funded_user(20)
    caller = Caller()

    batch = metered_batch(claim=list, funding=charge_each(user), serve=caller.serve, settle=caller.settle)

    assert batch is None
    assert caller.served == []
    assert charges(user) == []
