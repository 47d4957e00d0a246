"""The operators' admin: packs, payments and shortfalls, webhook events and re-processing, revenue."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders

from accounts.tests.factories import UserFactory
from billing import payments
from billing.models import CreditPack, Payment, WebhookEvent
from billing.tests.factories import CreditPackFactory, PaymentFactory, paid_payment
from billing.tests.stripe_fakes import charge, checkout_session, event, new_id, post_event
from credits.selectors import balance_get
from credits.services import credits_adjust

pytestmark = pytest.mark.django_db

REVENUE_URL = "/admin/billing/payment/revenue/"


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


class TestPacks:
    def test_packs_are_listed_and_added_in_the_admin(self, operator):
        CreditPackFactory(name="Starter", price=900)
        assert "$9.00" in operator.get("/admin/billing/creditpack/").content.decode()

        response = operator.post(
            "/admin/billing/creditpack/add/",
            {
                "name": "Agency",
                "credits": 50_000,
                "price": 49_900,
                "currency": "usd",
                "active": "on",
                "order": 40,
            },
        )

        assert response.status_code == 302, response.content
        pack = CreditPack.objects.get(name="Agency")
        assert (pack.credits, pack.price, pack.currency, pack.active) == (50_000, 49_900, "usd", True)

    def test_a_currency_must_be_a_lower_case_code(self, operator):
        response = operator.post(
            "/admin/billing/creditpack/add/",
            {"name": "Bad", "credits": 1, "price": 1, "currency": "US$", "order": 1},
        )
        assert response.status_code == 200
        assert not CreditPack.objects.filter(name="Bad").exists()

    def test_a_sold_pack_cannot_be_deleted(self, operator):
        sold = PaymentFactory().pack
        unsold = CreditPackFactory()
        assert operator.get(f"/admin/billing/creditpack/{sold.pk}/delete/").status_code == 403
        assert operator.get(f"/admin/billing/creditpack/{unsold.pk}/delete/").status_code == 200


class TestPayments:
    def test_shortfalls_are_shown_and_filterable(self, operator):
        short = paid_payment(pack=CreditPackFactory(credits=500, price=900))
        credits_adjust(user=short.user, amount=-400, reason="spent", actor=None)
        payments.payment_refund_apply(
            payment=short, charge_id="ch_short", charge_amount=900, amount_refunded=900
        )
        fine = paid_payment()

        listing = operator.get("/admin/billing/payment/").content.decode()
        assert "400 credits could not be taken back" in listing
        assert "Revenue report" in listing

        filtered = operator.get("/admin/billing/payment/?shortfall=yes")
        assert list(filtered.context["cl"].result_list) == [short]
        assert fine not in filtered.context["cl"].result_list

        detail = operator.get(f"/admin/billing/payment/{short.pk}/change/").content.decode()
        assert "ch_short" in detail  # the reversal inline
        assert "Shortfall" in detail

    def test_payments_are_read_only(self, operator):
        payment = PaymentFactory()
        assert operator.get("/admin/billing/payment/add/").status_code == 403
        assert operator.get(f"/admin/billing/payment/{payment.pk}/delete/").status_code == 403
        operator.post(f"/admin/billing/payment/{payment.pk}/change/", {"status": "paid"})
        payment.refresh_from_db()
        assert payment.status == "pending"


class TestWebhookEvents:
    def test_an_event_shows_its_payload_status_and_error(self, operator, client):
        delivered = event("charge.refunded", charge(payment_intent="pi_unknown", amount_refunded=900))
        assert post_event(client, delivered).status_code == 500
        stored = WebhookEvent.objects.get()

        listing = operator.get("/admin/billing/webhookevent/?status__exact=failed").content.decode()
        assert stored.stripe_id in listing
        detail = operator.get(f"/admin/billing/webhookevent/{stored.pk}/change/").content.decode()
        assert "pi_unknown" in detail  # the payload
        assert "No payment for PaymentIntent pi_unknown" in detail  # the error
        assert "Failed" in detail

    def test_re_processing_a_failed_event_applies_it_once(self, operator, client):
        payment = PaymentFactory(pack=CreditPackFactory(credits=500, price=900))
        intent = new_id("pi")
        post_event(client, event("charge.refunded", charge(payment_intent=intent, amount_refunded=900)))
        failed = WebhookEvent.objects.get(type="charge.refunded")
        assert failed.status == "failed"

        session = checkout_session(
            session_id=payment.checkout_session_id,
            user_id=payment.user_id,
            pack_id=payment.pack_id,
            payment_intent=intent,
        )
        assert post_event(client, event("checkout.session.completed", session)).status_code == 200
        processed = WebhookEvent.objects.get(type="checkout.session.completed")
        assert balance_get(user=payment.user) == 500

        response = operator.post(
            "/admin/billing/webhookevent/",
            {"action": "reprocess", "_selected_action": [failed.pk, processed.pk]},
            follow=True,
        )

        messages = [str(m) for m in response.context["messages"]]
        assert f"{failed.stripe_id}: processed. Refund: 500 credits taken back." in messages
        assert f"{processed.stripe_id}: already processed, left alone." in messages
        failed.refresh_from_db()
        assert (failed.status, failed.error, failed.attempts) == ("processed", "", 2)
        assert balance_get(user=payment.user) == 0

        operator.post(
            "/admin/billing/webhookevent/", {"action": "reprocess", "_selected_action": [failed.pk]}
        )
        assert balance_get(user=payment.user) == 0

    def test_re_processing_that_fails_again_says_why(self, operator, client):
        post_event(client, event("charge.refunded", charge(payment_intent="pi_never", amount_refunded=900)))
        failed = WebhookEvent.objects.get()
        response = operator.post(
            "/admin/billing/webhookevent/",
            {"action": "reprocess", "_selected_action": [failed.pk]},
            follow=True,
        )
        messages = [str(m) for m in response.context["messages"]]
        assert any("failed again: No payment for PaymentIntent pi_never" in m for m in messages)
        failed.refresh_from_db()
        assert (failed.status, failed.attempts) == ("failed", 2)

    def test_events_cannot_be_added_or_edited(self, operator, client):
        assert operator.get("/admin/billing/webhookevent/add/").status_code == 403


class TestRevenue:
    def test_the_report_has_the_numbers_and_a_chart(self, operator):
        payment = paid_payment(pack=CreditPackFactory(name="Starter", credits=500, price=900))
        Payment.objects.filter(pk=payment.pk).update(paid_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
        payments.payment_refund_apply(
            payment=payment,
            charge_id="ch_1",
            charge_amount=900,
            amount_refunded=300,
            occurred_at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC),
        )

        response = operator.get(REVENUE_URL, {"period": "day", "start": "2026-03-01", "end": "2026-03-03"})

        assert response.status_code == 200
        html = response.content.decode()
        report = response.context["report"]
        assert [(r.label, r.gross, r.refunded, r.net) for r in report.by_period] == [
            ("2026-03-01", 900, 0, 900),
            ("2026-03-02", 0, 300, -300),
        ]
        for amount in ("$9.00", "$3.00", "$6.00"):
            assert amount in html
        assert f"Starter (#{payment.pack_id})" in html
        chart_json = re.search(
            r'<script id="revenue-chart-data" type="application/json">(.*?)</script>', html, re.S
        )
        chart = json.loads(chart_json.group(1))
        assert chart["labels"] == ["2026-03-01", "2026-03-02", "2026-03-03"]
        assert chart["datasets"][0] == {
            "label": "Net USD",
            "kind": "net",
            "currency": "USD",
            "data": [9.0, -3.0, 0],
        }
        assert "vendor/chartjs/chart.umd.js" in html
        assert "js/billing-revenue.js" in html
        assert "<script>" not in html.split("revenue-chart-data")[0].split("<body")[1]

    def test_the_chart_scripts_are_served_as_static_files(self):
        assert finders.find("vendor/chartjs/chart.umd.js")
        assert finders.find("js/billing-revenue.js")

    def test_by_month(self, operator):
        response = operator.get(REVENUE_URL, {"period": "month", "start": "2026-01-01", "end": "2026-03-31"})
        assert response.context["report"].chart["labels"] == ["2026-01", "2026-02", "2026-03"]

    def test_an_invalid_range_says_so(self, operator):
        response = operator.get(REVENUE_URL, {"start": "2026-03-05", "end": "2026-03-01"})
        assert response.status_code == 200
        assert response.context["report"] is None
        assert "The start date is after the end date." in response.content.decode()

    def test_with_stripe_configured_it_shows_real_money_unless_asked(self, operator, stripe_api):
        stripe_sale = paid_payment(pack=CreditPackFactory(price=900))
        sandbox_sale = paid_payment(pack=CreditPackFactory(price=500))
        Payment.objects.filter(pk=sandbox_sale.pk).update(provider=Payment.Provider.SANDBOX)

        default = operator.get(REVENUE_URL).context["report"]
        everything = operator.get(REVENUE_URL, {"period": "day", "provider": ""}).context["report"]

        assert (default.provider, [t.gross for t in default.totals]) == ("stripe", [stripe_sale.amount])
        assert [t.gross for t in everything.totals] == [900 + 500]

    def test_needs_the_permission_to_view_payments(self, client):
        staff = UserFactory(is_staff=True)
        client.force_login(staff)
        assert client.get(REVENUE_URL).status_code == 403
        staff.user_permissions.add(Permission.objects.get(codename="view_payment"))
        assert client.get(REVENUE_URL).status_code == 200
