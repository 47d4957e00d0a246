"""The analytics pages: a user's usage (page and CSV), the operators' figures, and who may see them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from analytics import selectors
from billing import payments as billing_payments
from billing.models import Payment, WebhookEvent
from billing.tests.factories import CreditPackFactory, paid_payment
from conversion.models import ConversionFeedback
from conversion.tests.factories import ConversionFactory
from credits import services as credit_services
from credits.models import LedgerEntry, Operation
from credits.tests.factories import funded_user
from products.models import LookupLog

pytestmark = pytest.mark.django_db

USER_URL = "/analytics/"
OPERATORS_URL = "/analytics/operators/"
DAY = dt.date(2026, 3, 10)  # conversions and feedback can be dated freely


@pytest.fixture(autouse=True)
def _settings(settings) -> None:
    settings.SIGNUP_FREE_CREDITS = 0  # the ledgers here hold what the tests put in them
    settings.STRIPE_SECRET_KEY = ""  # revenue from every provider


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def charge(user: User, operation: str = Operation.ASIN_LOOKUP, quantity: int = 1) -> LedgerEntry:
    return credit_services.credits_charge(
        user=user, operation=operation, quantity=quantity, idempotency_key=f"t-{uuid.uuid4().hex}"
    )


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def lookup(
    user: User, *, asin: str, source: str = "cache", when: dt.datetime | None = None, **kwargs
) -> LookupLog:
    fields = {"marketplace": "US", "channel": "api", "outcome": "ok", "credits": 1, "latency_ms": 5.0}
    fields.update(kwargs)
    return LookupLog(user=user, asin=asin, source=source, created_at=when or timezone.now(), **fields)


# --- The user's page -----------------------------------------------------------------------------


class TestUserPage:
    @pytest.fixture
    def user(self, user: User) -> User:
        """The shared ``user`` (100 credits), with spending of their own and someone else's."""
        charge(user)
        charge(user, quantity=3)
        charge(user, operation=Operation.FNSKU_CONVERSION)  # 2 credits
        refunded = charge(user)
        credit_services.credits_refund(charge=refunded, reason="Nothing delivered")
        other = funded_user(100)
        charge(other, quantity=7)  # someone else's spending
        LookupLog.objects.bulk_create(
            [lookup(user, asin="B0000000AA") for _ in range(3)]
            + [lookup(user, asin="B0000000BB", source="upstream")]
            + [lookup(other, asin="B0000000ZZ") for _ in range(5)]
        )
        return user

    def test_the_page_needs_a_sign_in(self):
        response = Client().get(USER_URL)
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]

    def test_usage_spend_top_products_and_cache_share(self, user):
        response = logged_in(user).get(USER_URL)

        assert response.status_code == 200
        context = response.context
        assert context["usage"].total == 6  # 1 + 3 + 2, the refunded charge nets to nothing
        assert context["usage"].by_operation == {"asin_lookup": 4, "fnsku_conversion": 2}
        assert [(p.asin, p.lookups) for p in context["top_products"]] == [
            ("B0000000AA", 3),
            ("B0000000BB", 1),
        ]
        shares = {s.source: (s.lookups, s.percent) for s in context["sources"]}
        assert shares["cache"] == (3, 75.0)
        assert shares["upstream"] == (1, 25.0)
        html = response.content.decode()
        assert "B0000000AA" in html
        assert "B0000000ZZ" not in html
        assert 'id="usage-chart-data"' in html
        assert "js/analytics.js" in html
        chart = json.loads(re.search(r'id="usage-chart-data"[^>]*>(.*?)</script>', html, re.S)[1])
        assert {d["label"]: sum(d["data"]) for d in chart["datasets"]} == {
            "asin_lookup": 4,
            "fnsku_conversion": 2,
        }

    def test_csv_export_of_daily_usage(self, user):
        response = logged_in(user).get(USER_URL, {"format": "csv", "days": 7})

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == [
            "date",
            "credits_spent",
            "credits_asin_lookup",
            "credits_fnsku_conversion",
            "bulk_jobs",
            "bulk_items",
        ]
        assert len(rows) == 1 + 7
        today = timezone.now().astimezone(dt.UTC).date().isoformat()
        assert rows[-1] == [today, "6", "4", "2", "0", "0"]
        assert all(row[1] == "0" for row in rows[1:-1])

    def test_csv_export_of_top_products(self, user):
        response = logged_in(user).get(USER_URL, {"format": "csv", "table": "products"})

        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == ["asin", "marketplace", "lookups", "last_lookup_at"]
        assert [row[:3] for row in rows[1:]] == [["B0000000AA", "US", "3"], ["B0000000BB", "US", "1"]]

    def test_an_unknown_period_falls_back_to_30_days(self, user):
        response = logged_in(user).get(USER_URL, {"days": "12345"})
        assert response.context["days"] == 30
        assert len(response.context["usage"].daily) == 30

    def test_nav_links(self, user):
        html = logged_in(user).get(USER_URL).content.decode()
        assert f'href="{USER_URL}"' in html
        assert f'href="{OPERATORS_URL}"' not in html
        staff_html = logged_in(UserFactory(is_staff=True)).get(USER_URL).content.decode()
        assert f'href="{OPERATORS_URL}"' in staff_html


# --- The operators' page -------------------------------------------------------------------------


class TestOperatorsPageAccess:
    def test_anonymous_visitors_get_not_found(self):
        assert Client().get(OPERATORS_URL).status_code == 404

    def test_signed_in_users_who_are_not_staff_get_not_found(self):
        assert logged_in(UserFactory()).get(OPERATORS_URL).status_code == 404

    def test_even_a_superuser_flag_without_staff_gets_not_found(self):
        assert logged_in(UserFactory(is_superuser=True, is_staff=False)).get(OPERATORS_URL).status_code == 404

    def test_staff_see_the_page(self):
        response = logged_in(UserFactory(is_staff=True)).get(OPERATORS_URL)
        assert response.status_code == 200
        assert "Operators' analytics" in response.content.decode()


def sale(pack, day: dt.date, **kwargs) -> Payment:
    payment = paid_payment(pack=pack, **kwargs)
    Payment.objects.filter(pk=payment.pk).update(paid_at=at(day))
    payment.refresh_from_db()
    return payment


def refund(payment: Payment, amount_refunded: int, day: dt.date) -> None:
    billing_payments.payment_refund_apply(
        payment=payment,
        charge_id=f"ch_{payment.pk}",
        charge_amount=payment.amount,
        amount_refunded=amount_refunded,
        occurred_at=at(day),
    )


class TestOperatorReport:
    @pytest.fixture
    def known(self):
        # Ledger entries are append-only (a trigger refuses UPDATE), so they cannot be
        # back-dated: the period ends today, where the services write them.
        today = selectors.utc_today()
        start = today - dt.timedelta(days=6)
        starter = CreditPackFactory(name="Starter", credits=500, price=900)
        pro = CreditPackFactory(name="Pro", credits=10_000, price=12_900)
        first = sale(starter, today - dt.timedelta(days=1))
        sale(starter, today)
        sale(pro, today)
        sale(pro, start - dt.timedelta(days=1))  # paid before the period
        refund(first, 900, today)

        # Signups: two in the period (one today), one before it; the buyers long ago.
        buyers = list(User.objects.values_list("pk", flat=True))
        User.objects.update(date_joined=at(today - dt.timedelta(days=60)))
        users = [UserFactory() for _ in range(3)]
        User.objects.filter(pk=users[0].pk).update(date_joined=at(today, 0))
        User.objects.filter(pk=users[1].pk).update(date_joined=at(start, 0))
        User.objects.filter(pk=users[2].pk).update(date_joined=at(start - dt.timedelta(days=1)))
        # Activity: users[0] looked up twice in the period, users[2] only before it.
        LookupLog.objects.bulk_create(
            [
                lookup(users[0], asin="B0000000AA", when=at(today, 0), latency_ms=10.0),
                lookup(users[0], asin="B0000000AA", when=at(start, 1), latency_ms=30.0, channel="page"),
                lookup(users[2], asin="B0000000AA", when=at(start - dt.timedelta(days=1)), latency_ms=99.0),
            ]
        )
        return {"today": today, "start": start, "users": users, "buyers": buyers}

    def test_revenue_users_and_latency(self, known):
        report = selectors.operator_report(days=7, today=known["today"])

        assert (report.start, report.end) == (known["start"], known["today"])
        [total] = report.revenue.totals
        assert (total.currency, total.payments, total.gross, total.refunded, total.net) == (
            "usd",
            3,
            900 + 900 + 12_900,
            900,
            900 + 12_900,
        )
        by_pack = {
            row.label.split(" (#")[0]: (row.gross, row.refunded, row.net) for row in report.revenue.by_pack
        }
        assert by_pack == {"Starter": (1800, 900, 900), "Pro": (12_900, 0, 12_900)}
        assert report.new_users == 2
        signups = dict(report.signups_by_day)
        assert len(signups) == 7
        assert (signups[known["today"]], signups[known["start"]]) == (1, 1)
        assert sum(signups.values()) == report.new_users
        # The four buyers (their grants are ledger entries written today) and users[0] (lookups).
        assert len(known["buyers"]) == 4
        assert report.active_users == 5
        latency = {row.channel: (row.lookups, row.p50) for row in report.latency}
        assert latency == {"api": (1, 10.0), "page": (1, 30.0)}

    def test_ledger_activity_outside_the_period_is_not_activity(self, known):
        from credits.selectors import ledger_user_ids

        now = timezone.now()
        assert ledger_user_ids(since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=1)) == set(
            known["buyers"]
        )
        assert ledger_user_ids(since=now + dt.timedelta(hours=1), until=now + dt.timedelta(hours=2)) == set()

    def test_the_page_shows_the_report(self, known):
        staff = UserFactory(is_staff=True)
        response = logged_in(staff).get(OPERATORS_URL, {"days": 7})

        assert response.status_code == 200
        report = response.context["report"]
        assert report.end == known["today"]
        assert report.new_users == 3  # the two, and the staff member who just joined
        html = response.content.decode()
        for section in ("revenue", "users", "latency", "upstream", "fnsku"):
            assert f'id="{section}"' in html
        assert "$138.00" in html  # the net total: 14,700 cents sold less 900 refunded


class TestConversionQuality:
    def test_confidence_bands_and_corrections(self):
        user = UserFactory()
        since, until = selectors.day_bounds(DAY, DAY)

        def conversion(confidence, status="resolved", when=None):
            return ConversionFactory(
                user=user,
                fnsku="X001ABCDEF",
                status=status,
                asin="B0000000AA" if confidence is not None else "",
                confidence=confidence,
                created_at=when or at(DAY),
            )

        sure = [conversion(c) for c in (1.0, 0.97, 0.95)]
        conversion(0.9)
        conversion(0.5)
        unsure = conversion(0.2, status="ambiguous")
        conversion(None, status="not_found")
        conversion(None, status="pending")
        conversion(0.99, when=at(DAY - dt.timedelta(days=1)))  # another day
        for item, verdict in ((sure[0], "confirmed"), (sure[1], "confirmed"), (unsure, "corrected")):
            ConversionFeedback.objects.create(
                conversion=item,
                user=user,
                fnsku=item.fnsku,
                marketplace="US",
                asin="B0000000CC",
                verdict=verdict,
                created_at=at(DAY),
            )

        quality = selectors.conversion_quality(since=since, until=until)

        assert quality.available
        assert (quality.conversions, quality.answered) == (7, 6)
        assert quality.bands == [("≥ 0.95", 3), ("0.80-0.95", 1), ("0.50-0.80", 1), ("< 0.50", 1)]
        assert (quality.confirmed, quality.corrected, quality.correction_percent) == (2, 1, 33.3)

    def test_without_a_conversion_log_it_says_not_available(self, monkeypatch):
        def missing(app_label, model_name):
            raise LookupError(model_name)

        monkeypatch.setattr(selectors.apps, "get_model", missing)
        since, until = selectors.day_bounds(DAY, DAY)

        quality = selectors.conversion_quality(since=since, until=until)

        assert not quality.available
        assert quality.correction_percent is None


# --- Today's figures (the admin index) -----------------------------------------------------------


class TestTodayFigures:
    def test_revenue_signups_and_errors_of_today(self):
        today = selectors.utc_today()
        yesterday = today - dt.timedelta(days=1)
        pack = CreditPackFactory(price=900)
        sold = sale(pack, today)
        sale(pack, yesterday)
        refund(sold, 300, today)
        User.objects.update(date_joined=at(yesterday))
        UserFactory()
        UserFactory()
        WebhookEvent.objects.create(stripe_id="evt_1", type="charge.refunded", payload={}, status="failed")
        WebhookEvent.objects.create(stripe_id="evt_2", type="charge.refunded", payload={}, status="processed")
        WebhookEvent.objects.create(
            stripe_id="evt_3", type="x", payload={}, status="failed", received_at=at(yesterday)
        )
        user = UserFactory()
        LookupLog.objects.bulk_create(
            [
                lookup(user, asin="B0000000AA", source="none", outcome="unavailable"),
                lookup(user, asin="B0000000AA"),
                lookup(user, asin="B0000000AA", source="none", outcome="unavailable", when=at(yesterday)),
            ]
        )

        figures = selectors.today_figures()

        assert [(row.currency, row.net) for row in figures.revenue] == [("usd", 600)]
        assert figures.signups == 3
        assert (figures.webhook_failures, figures.lookups_unavailable, figures.bulk_items_failed) == (1, 1, 0)
        assert figures.errors == 2
