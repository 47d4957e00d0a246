"""The revenue report: by day and month, by pack, per currency, net of refunds."""

from __future__ import annotations

import datetime as dt

import pytest

from billing import checkout, payments, selectors
from billing.models import Payment
from billing.tests.factories import CreditPackFactory, PaymentFactory, paid_payment
from credits.services import credits_adjust

pytestmark = pytest.mark.django_db


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def sale(pack, day, **kwargs):
    payment = paid_payment(pack=pack, **kwargs)
    Payment.objects.filter(pk=payment.pk).update(paid_at=at(day))
    payment.refresh_from_db()
    return payment


def refund(payment, amount_refunded, day):
    payments.payment_refund_apply(
        payment=payment,
        charge_id=f"ch_{payment.pk}",
        charge_amount=payment.amount,
        amount_refunded=amount_refunded,
        occurred_at=at(day),
    )


@pytest.fixture
def sales():
    starter = CreditPackFactory(name="Starter", credits=500, price=900)
    pro = CreditPackFactory(name="Pro", credits=10_000, price=12_900)
    euro = CreditPackFactory(name="Euro", credits=2_000, price=2_000, currency="eur")
    refunded_later = sale(starter, "2026-03-01")
    sale(starter, "2026-03-01")
    sale(pro, "2026-03-01")
    sandbox = sale(starter, "2026-03-01")
    Payment.objects.filter(pk=sandbox.pk).update(provider=Payment.Provider.SANDBOX)
    sale(starter, "2026-03-02")
    refund(refunded_later, 900, "2026-03-02")
    euro_sale = sale(euro, "2026-04-10")
    refund(euro_sale, 500, "2026-04-11")
    PaymentFactory(pack=starter)  # pending: not a sale
    expired = PaymentFactory(pack=starter)
    checkout.payment_close(checkout_session_id=expired.checkout_session_id, status="expired")
    return {"starter": starter, "pro": pro, "euro": euro}


def rows(report_rows):
    return [(r.label, r.currency, r.payments, r.credits, r.gross, r.refunded, r.net) for r in report_rows]


def test_by_day_a_sale_counts_on_its_day_and_a_refund_on_its_own(sales):
    report = selectors.revenue_report(period="day", start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 2))

    assert rows(report.by_period) == [
        ("2026-03-01", "usd", 4, 500 * 3 + 10_000, 900 * 3 + 12_900, 0, 15_600),
        ("2026-03-02", "usd", 1, 500, 900, 900, 0),
    ]
    assert rows(report.totals) == [("Total", "usd", 5, 12_000, 16_500, 900, 15_600)]
    assert report.chart["labels"] == ["2026-03-01", "2026-03-02"]
    assert report.chart["datasets"] == [
        {"label": "Net USD", "kind": "net", "currency": "USD", "data": [156.0, 0.0]},
        {"label": "Refunds USD", "kind": "refunds", "currency": "USD", "data": [-0.0, -9.0]},
    ]


def test_by_month_per_currency_and_by_pack(sales):
    report = selectors.revenue_report(period="month", start=dt.date(2026, 3, 15), end=dt.date(2026, 4, 30))

    assert report.start == dt.date(2026, 3, 1)
    assert rows(report.by_period) == [
        ("2026-03", "usd", 5, 12_000, 16_500, 900, 15_600),
        ("2026-04", "eur", 1, 2_000, 2_000, 500, 1_500),
    ]
    assert rows(report.by_pack) == [
        (f"Pro (#{sales['pro'].pk})", "usd", 1, 10_000, 12_900, 0, 12_900),
        (f"Starter (#{sales['starter'].pk})", "usd", 4, 2_000, 3_600, 900, 2_700),
        (f"Euro (#{sales['euro'].pk})", "eur", 1, 2_000, 2_000, 500, 1_500),
    ]
    assert rows(report.totals) == [
        ("Total", "usd", 5, 12_000, 16_500, 900, 15_600),
        ("Total", "eur", 1, 2_000, 2_000, 500, 1_500),
    ]
    assert report.chart["labels"] == ["2026-03", "2026-04"]
    assert [d["label"] for d in report.chart["datasets"]] == [
        "Net USD",
        "Refunds USD",
        "Net EUR",
        "Refunds EUR",
    ]
    assert report.chart["datasets"][2]["data"] == [0, 15.0]


def test_a_refund_of_an_earlier_sale_makes_the_periods_net_negative(sales):
    report = selectors.revenue_report(period="day", start=dt.date(2026, 4, 11), end=dt.date(2026, 4, 11))
    assert rows(report.by_period) == [("2026-04-11", "eur", 0, 0, 0, 500, -500)]
    assert report.totals[0].net_display == "-€5.00"


def test_only_stripe_payments(sales):
    report = selectors.revenue_report(
        period="day", start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 1), provider="stripe"
    )
    assert rows(report.by_period) == [("2026-03-01", "usd", 3, 11_000, 14_700, 0, 14_700)]


def test_shortfall_of_the_periods_payments():
    payment = sale(CreditPackFactory(credits=500, price=900), "2026-05-05")
    credits_adjust(user=payment.user, amount=-300, reason="spent", actor=None)
    refund(payment, 900, "2026-05-06")
    report = selectors.revenue_report(period="day", start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 31))
    assert report.credits_shortfall == 300


def test_defaults_to_the_last_30_days_and_12_months():
    by_day = selectors.revenue_report()
    assert (by_day.end - by_day.start).days == 29
    assert len(by_day.chart["labels"]) == 30
    by_month = selectors.revenue_report(period="month")
    assert len(by_month.chart["labels"]) == 12
    assert by_month.start.day == 1
