"""The back office: a user's page with balance, keys, payments and jobs; credit adjustments
through the ledger service; ledger and payments out of operators' reach; the index figures."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory, api_key_for
from billing.models import Payment, WebhookEvent
from billing.tests.factories import CreditPackFactory, paid_payment
from config.admin import PlatformAdminSite
from credits import selectors as credit_selectors
from credits.models import CreditAccount, LedgerEntry
from credits.tests.factories import funded_user
from jobs.models import BulkJob
from jobs.tests.factories import BulkJobFactory
from products.tests.factories import LookupLogFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_signup_bonus(settings) -> None:
    settings.SIGNUP_FREE_CREDITS = 0
    settings.STRIPE_SECRET_KEY = ""


@pytest.fixture
def operator() -> User:
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def test_the_default_admin_site_is_the_platforms():
    from django.contrib import admin

    assert isinstance(admin.site, PlatformAdminSite)


class TestUserPage:
    def test_balance_keys_payments_and_jobs_are_shown_read_only(self, admin_client):
        user = funded_user(250)
        key, _ = api_key_for(user, name="Warehouse script")
        payment = paid_payment(user=user, pack=CreditPackFactory(name="Starter", price=900))
        job = BulkJobFactory(user=user, source=BulkJob.Source.CSV, filename="sku-list.csv", total=12)

        response = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]))

        assert response.status_code == 200
        html = response.content.decode()
        balance = credit_selectors.balance_get(user=user)
        assert balance == 250 + payment.credits_granted
        assert f"{balance} credits" in html
        account = CreditAccount.objects.get(user=user)
        assert reverse("admin:credits_creditaccount_adjust", args=[account.pk]) in html
        assert "Warehouse script" in html
        assert key.prefix in html
        assert reverse("admin:billing_payment_change", args=[payment.pk]) in html
        assert reverse("admin:jobs_bulkjob_change", args=[job.pk]) in html
        # Nothing of them is a form field on this page: no inline can add, change or delete.
        assert 'name="payments-0-status"' not in html
        assert 'name="payments-0-DELETE"' not in html
        assert 'name="api_keys-0-name"' not in html
        inline_prefixes = [formset.formset.prefix for formset in response.context["inline_admin_formsets"]]
        assert len(inline_prefixes) == 3
        for inline in response.context["inline_admin_formsets"]:
            assert not inline.has_add_permission
            assert not inline.has_change_permission
            assert not inline.has_delete_permission

    def test_saving_the_user_leaves_their_payments_alone(self, admin_client):
        user = funded_user(0)
        payment = paid_payment(user=user)
        page = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]))
        data = {
            "email": user.email,
            "full_name": "Renamed",
            "is_active": "on",
        }
        for inline in page.context["inline_admin_formsets"]:
            management = inline.formset.management_form
            for name, field in management.fields.items():
                data[f"{inline.formset.prefix}-{name}"] = management.initial.get(name, field.initial)
        # A forged change to the payment's row must not reach the payment.
        data["payments-0-id"] = payment.pk
        data["payments-0-status"] = "refunded"

        response = admin_client.post(reverse("admin:accounts_user_change", args=[user.pk]), data)

        assert response.status_code == 302, response.context["errors"] if response.context else response
        user.refresh_from_db()
        assert user.full_name == "Renamed"
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PAID

    def test_the_add_page_has_no_inlines(self, admin_client):
        response = admin_client.get(reverse("admin:accounts_user_add"))
        assert response.status_code == 200
        assert list(response.context["inline_admin_formsets"]) == []

    def test_lists_are_searchable_and_filtered(self, admin_client):
        wanted = UserFactory(email="needle@example.com")
        UserFactory(email="hay@example.com")

        response = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": "needle"})

        assert list(response.context["cl"].queryset) == [wanted]
        for name in (
            "accounts_user",
            "accounts_apikey",
            "credits_creditaccount",
            "credits_ledgerentry",
            "credits_credithold",
            "credits_price",
            "billing_creditpack",
            "billing_payment",
            "billing_webhookevent",
            "products_product",
            "products_lookuplog",
            "jobs_bulkjob",
        ):
            cl = admin_client.get(reverse(f"admin:{name}_changelist")).context["cl"]
            assert cl.search_fields, name
            assert cl.has_filters or cl.date_hierarchy, name


class TestCreditAdjustment:
    def test_the_adjust_page_of_one_account_goes_through_the_ledger_with_a_reason(
        self, admin_client, operator
    ):
        user = funded_user(40)
        account = CreditAccount.objects.get(user=user)
        url = reverse("admin:credits_creditaccount_adjust", args=[account.pk])

        form = admin_client.get(url)
        assert form.status_code == 200
        assert 'name="reason"' in form.content.decode()

        response = admin_client.post(url, {"apply": "yes", "amount": "-15", "reason": "Goodwill reversed"})

        assert response.status_code == 302
        assert response["Location"] == reverse("admin:accounts_user_change", args=[user.pk])
        entry = LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.ADJUSTMENT).get()
        assert (entry.amount, entry.balance_after, entry.description, entry.actor) == (
            -15,
            25,
            "Goodwill reversed",
            operator,
        )
        assert credit_selectors.balance_get(user=user) == 25
        assert credit_selectors.accounts_out_of_balance() == []

    def test_a_reason_is_required(self, admin_client):
        account = CreditAccount.objects.get(user=funded_user(40))
        url = reverse("admin:credits_creditaccount_adjust", args=[account.pk])

        response = admin_client.post(url, {"apply": "yes", "amount": "10", "reason": ""})

        assert response.status_code == 200
        assert "This field is required" in response.content.decode()
        assert not LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.ADJUSTMENT).exists()

    def test_staff_without_the_adjust_permission_are_refused(self):
        account = CreditAccount.objects.get(user=funded_user(40))
        clerk = UserFactory(is_staff=True)
        clerk.user_permissions.add(Permission.objects.get(codename="view_creditaccount"))
        client = Client()
        client.force_login(clerk)
        url = reverse("admin:credits_creditaccount_adjust", args=[account.pk])

        assert client.get(url).status_code == 403
        assert client.post(url, {"apply": "yes", "amount": "10", "reason": "x"}).status_code == 403
        assert credit_selectors.balance_get(user=account.user) == 40

    def test_non_staff_are_sent_to_the_admin_login(self):
        account = CreditAccount.objects.get(user=funded_user(40))
        client = Client()
        client.force_login(UserFactory())

        response = client.post(
            reverse("admin:credits_creditaccount_adjust", args=[account.pk]),
            {"apply": "yes", "amount": "10", "reason": "x"},
        )

        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]
        assert credit_selectors.balance_get(user=account.user) == 40


class TestLedgerAndPaymentsAreNotEditable:
    def test_a_superuser_cannot_change_or_delete_a_ledger_entry(self, admin_client):
        entry = LedgerEntry.objects.get(account__user=funded_user(30))

        change = admin_client.post(
            reverse("admin:credits_ledgerentry_change", args=[entry.pk]),
            {"amount": "999", "description": "x"},
        )
        delete = admin_client.post(
            reverse("admin:credits_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}
        )

        assert change.status_code == 403
        assert delete.status_code == 403
        entry.refresh_from_db()
        assert (entry.amount, entry.description) == (30, "Test funds")
        assert admin_client.get(reverse("admin:credits_ledgerentry_add")).status_code == 403

    def test_a_superuser_cannot_change_or_delete_a_payment(self, admin_client):
        payment = paid_payment()

        change = admin_client.post(
            reverse("admin:billing_payment_change", args=[payment.pk]), {"status": "refunded", "amount": "1"}
        )
        delete = admin_client.post(
            reverse("admin:billing_payment_delete", args=[payment.pk]), {"post": "yes"}
        )

        assert change.status_code == 403
        assert delete.status_code == 403
        payment.refresh_from_db()
        assert (payment.status, payment.amount) == (Payment.Status.PAID, 900)
        # The bulk "delete selected" action is not offered either.
        changelist = admin_client.get(reverse("admin:billing_payment_changelist"))
        assert "delete_selected" not in changelist.content.decode()
        changelist = admin_client.get(reverse("admin:credits_ledgerentry_changelist"))
        assert "delete_selected" not in changelist.content.decode()


class TestIndex:
    def test_the_index_shows_todays_revenue_signups_and_errors(self, admin_client):
        pack = CreditPackFactory(price=1_250)
        paid_payment(pack=pack)
        WebhookEvent.objects.create(
            stripe_id="evt_failed", type="charge.refunded", payload={}, status="failed"
        )
        user = UserFactory()
        LookupLogFactory(user=user, asin="B0000000AA", source="none", outcome="unavailable", latency_ms=3.0)
        signups_today = User.objects.count()  # every user here was created today

        response = admin_client.get(reverse("admin:index"))

        assert response.status_code == 200
        today = response.context["today"]
        assert [row.net for row in today.revenue] == [1_250]
        assert today.signups == signups_today
        assert (today.webhook_failures, today.lookups_unavailable, today.bulk_items_failed) == (1, 1, 0)
        html = response.content.decode()
        assert 'id="today-figures"' in html
        assert "$12.50" in html
        assert 'status__exact=failed">1</a>' in html
        assert 'outcome__exact=unavailable">1</a>' in html
        # The apps are still listed below the figures.
        assert reverse("admin:accounts_user_changelist") in html

    def test_staff_who_may_not_see_payments_do_not_see_the_figures(self):
        clerk = UserFactory(is_staff=True)
        clerk.user_permissions.add(Permission.objects.get(codename="view_creditaccount"))
        client = Client()
        client.force_login(clerk)

        response = client.get(reverse("admin:index"))

        assert response.status_code == 200
        assert "today" not in response.context
        assert 'id="today-figures"' not in response.content.decode()

    def test_the_index_is_for_staff_only(self):
        client = Client()
        client.force_login(UserFactory())
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]
