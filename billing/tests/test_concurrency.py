"""Exactly once under real concurrency, on PostgreSQL: racing deliveries of
one event, a redelivery, a second event for the same session, and racing
clicks on the sandbox's Pay all give one grant."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from billing import checkout
from billing.models import Payment, Reversal, WebhookEvent
from billing.tests.factories import CreditPackFactory, PaymentFactory, paid_payment
from billing.tests.stripe_fakes import charge, checkout_session, event, post_event
from core.tests.threads import race as race_threads
from credits.models import LedgerEntry
from credits.selectors import balance_get

# Up to 100 connections each: never two of them at once, in any xdist worker (root conftest.py).
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.exclusive("postgres-connections"),
    pytest.mark.slow,
]

RACERS = 8


def race(action: Callable[[], Any], racers: int = RACERS) -> list[Any]:
    """Run ``action`` in ``racers`` threads released at the same moment."""
    return race_threads(action, racers)


def session_event(payment: Payment, event_type: str = "checkout.session.completed", **kwargs: Any) -> dict:
    session = checkout_session(
        session_id=payment.checkout_session_id,
        user_id=payment.user_id,
        pack_id=payment.pack_id,
        payment_ref=str(payment.reference),
        amount_total=payment.amount,
        **kwargs,
    )
    return event(event_type, session)


def deliver(delivered: dict) -> Callable[[], int]:
    return lambda: post_event(Client(), delivered).status_code


def purchases(payment: Payment):
    return LedgerEntry.objects.filter(account__user=payment.user, kind="purchase")


def test_racing_deliveries_a_redelivery_and_a_second_event_grant_once():
    payment = PaymentFactory(pack=CreditPackFactory(credits=500, price=900))
    completed = session_event(payment)

    statuses = race(deliver(completed))

    assert statuses == [200] * RACERS
    assert post_event(Client(), completed).status_code == 200  # Stripe's later redelivery
    succeeded = session_event(
        payment,
        "checkout.session.async_payment_succeeded",
        payment_intent=completed["data"]["object"]["payment_intent"],
    )
    assert post_event(Client(), succeeded).status_code == 200

    assert purchases(payment).count() == 1
    assert balance_get(user=payment.user) == 500
    payment.refresh_from_db()
    assert (payment.status, payment.credits_granted) == ("paid", 500)
    stored = WebhookEvent.objects.get(stripe_id=completed["id"])
    assert (stored.status, stored.attempts, stored.deliveries) == ("processed", 1, RACERS + 1)
    assert WebhookEvent.objects.count() == 2


def test_different_events_for_one_session_racing_each_other_grant_once():
    payment = PaymentFactory(pack=CreditPackFactory(credits=500, price=900))
    intent = "pi_race_1"
    kinds = ["checkout.session.completed", "checkout.session.async_payment_succeeded"] * (RACERS // 2)
    events = iter([session_event(payment, kind, payment_intent=intent) for kind in kinds])
    take = threading.Lock()

    def deliver_next() -> int:
        with take:
            delivered = next(events)
        return post_event(Client(), delivered).status_code

    assert race(deliver_next) == [200] * RACERS
    assert purchases(payment).count() == 1
    assert balance_get(user=payment.user) == 500
    assert WebhookEvent.objects.filter(status="processed").count() == RACERS


def test_racing_clicks_on_the_sandbox_pay_button_grant_once(settings):
    user_payment = PaymentFactory(
        provider=Payment.Provider.SANDBOX,
        pack=CreditPackFactory(credits=500),
        checkout_session_id="sandbox_cs_race",
    )

    def pay() -> str:
        paid = checkout.sandbox_checkout_complete(
            user=user_payment.user, checkout_session_id="sandbox_cs_race"
        )
        return paid.status

    assert race(pay) == ["paid"] * RACERS
    assert purchases(user_payment).count() == 1
    assert balance_get(user=user_payment.user) == 500


def test_the_expiry_sweep_racing_late_completions_and_expiries_still_grants_once():
    payment = PaymentFactory(
        pack=CreditPackFactory(credits=500, price=900),
        expires_at=timezone.now() - dt.timedelta(hours=1),  # abandoned, as the sweep sees it
    )
    completed = session_event(payment)
    expired = session_event(payment, "checkout.session.expired", payment_status="unpaid", status="expired")
    actions = iter(
        [deliver(completed), deliver(expired), lambda: checkout.payments_expire_abandoned()] * (RACERS // 2)
    )
    take = threading.Lock()

    def act_next() -> int:
        with take:
            action = next(actions)
        return action()

    race(act_next, racers=RACERS // 2 * 3)

    assert purchases(payment).count() == 1
    assert balance_get(user=payment.user) == 500
    payment.refresh_from_db()
    assert (payment.status, payment.credits_granted, payment.closed_at) == ("paid", 500, None)


def test_racing_deliveries_of_a_refund_take_back_once():
    payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))
    refunded = event("charge.refunded", charge(payment_intent=payment.payment_intent_id, amount_refunded=450))
    statuses = race(deliver(refunded))
    assert statuses == [200] * RACERS
    assert Reversal.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1
    assert balance_get(user=payment.user) == 250
