from __future__ import annotations

from typing import Any

import factory

from accounts.tests.factories import UserFactory
from billing import checkout
from billing.models import CreditPack, Payment
from billing.tests.stripe_fakes import new_id


class CreditPackFactory(factory.django.DjangoModelFactory[CreditPack]):
    class Meta:
        model = CreditPack

    name = factory.Sequence(lambda n: f"Pack {n}")
    credits = 500
    price = 900
    currency = "usd"
    active = True
    order = factory.Sequence(lambda n: n)


class PaymentFactory(factory.django.DjangoModelFactory[Payment]):
    """A pending Stripe payment, as ``pack_checkout_start`` leaves it."""

    class Meta:
        model = Payment

    user = factory.SubFactory(UserFactory)
    pack = factory.SubFactory(CreditPackFactory)
    provider = Payment.Provider.STRIPE
    checkout_session_id = factory.LazyFunction(lambda: f"cs_test_{new_id('a1')}")
    checkout_url = factory.LazyAttribute(
        lambda p: f"https://checkout.stripe.com/c/pay/{p.checkout_session_id}"
    )
    credits = factory.LazyAttribute(lambda p: p.pack.credits)
    amount = factory.LazyAttribute(lambda p: p.pack.price)
    currency = factory.LazyAttribute(lambda p: p.pack.currency)


def paid_payment(**kwargs: Any) -> Payment:
    """A Stripe payment fulfilled through the one fulfilment path, with its PaymentIntent."""
    payment: Payment = PaymentFactory(**kwargs)
    payment_intent = new_id("pi")
    checkout.payment_fulfil(
        checkout_session_id=payment.checkout_session_id,
        payment_intent_id=payment_intent,
        amount_paid=payment.amount,
        currency=payment.currency,
    )
    payment.refresh_from_db()
    return payment
