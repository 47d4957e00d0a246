"""Invariants kept by the database, and the default packs."""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from billing.checkout import SANDBOX_SESSION_PREFIX
from billing.models import CreditPack, Payment, checkout_session_id_valid
from billing.tests.factories import CreditPackFactory, PaymentFactory, paid_payment

pytestmark = pytest.mark.django_db


def test_the_data_migration_creates_the_default_packs():
    migration = importlib.import_module("billing.migrations.0002_default_packs")
    CreditPack.objects.all().delete()

    migration.create_default_packs(apps, None)

    packs = [(p.name, p.credits, p.price, p.currency, p.active) for p in CreditPack.objects.order_by("order")]
    assert packs == [
        ("Starter", 500, 900, "usd", True),
        ("Growth", 2_500, 3_900, "usd", True),
        ("Pro", 10_000, 12_900, "usd", True),
    ]
    migration.create_default_packs(apps, None)  # never twice
    assert CreditPack.objects.count() == 3


def test_a_checkout_session_has_one_payment():
    payment = PaymentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(checkout_session_id=payment.checkout_session_id)


@pytest.mark.parametrize(
    "change",
    [
        {"credits_granted": 1},  # not the pack's credits
        {"credits_reversed": 400, "credits_shortfall": 200},  # more than granted
        {"amount_refunded": 901},  # more than paid
    ],
)
def test_payment_amounts_are_checked_by_the_database(change):
    payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(**change)


@pytest.mark.parametrize("change", [{"credits": 0}, {"price": 0}, {"currency": "USD"}])
def test_pack_values_are_checked_by_the_database(change):
    pack = CreditPackFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditPack.objects.filter(pk=pack.pk).update(**change)


def test_prices_are_shown_in_the_currencys_own_unit():
    assert CreditPackFactory.build(price=900, currency="usd").price_display == "$9.00"
    assert CreditPackFactory.build(price=1200, currency="jpy").price_display == "¥1,200"
    assert CreditPackFactory.build(price=1234567, currency="eur").price_display == "€12,345.67"
    assert CreditPackFactory.build(price=1500, currency="kwd").price_display == "1.500 KWD"


def test_the_price_per_credit_is_exact_in_the_major_unit():
    pack = CreditPackFactory.build(price=3900, credits=2500, currency="usd")
    assert pack.price_per_credit == Decimal("0.0156")
    assert pack.price_per_credit_display == "$0.0156"
    assert CreditPackFactory.build(price=1200, credits=500, currency="jpy").price_per_credit == Decimal("2.4")
    payment = PaymentFactory.build(amount=900, credits=500, currency="usd")
    assert payment.price_per_credit == Decimal("0.018")


def test_a_receipt_number_quotes_the_day_paid_and_the_reference():
    payment = PaymentFactory.build(
        reference=uuid.UUID("c25e2a22-77a7-4c2f-8fc0-9193a095909d"),
        paid_at=dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    )
    assert payment.receipt_number == "R-20261208-C25E2A22"  # the UTC day


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ0123456789abcdefghij", True),
        ("cs_live_b1KmQ2x3", True),
        # A fixed uuid4 hex: the ids of the cases must be the same in every xdist worker.
        (f"{SANDBOX_SESSION_PREFIX}{uuid.UUID('c25e2a22-77a7-4c2f-8fc0-9193a095909d').hex}", True),
        ("cs_test_" + "a" * 247, True),
        ("cs_test_" + "a" * 248, False),
        ("cs_test_a\x00b", False),
        ("cs_test_a b", False),
        ("cs_test_\ufffd", False),
        ("cs_test_a\n", False),
        ("pi_3Mtw", False),
        ("", False),
    ],
)
def test_what_a_checkout_session_id_looks_like(value, valid):
    assert checkout_session_id_valid(value) is valid
