import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory
from credits import selectors
from credits.models import CreditAccount, LedgerEntry, Operation, Price
from credits.tests.factories import CreditAccountFactory

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind


@pytest.fixture
def admin_client() -> Client:
    admin = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    client.admin = admin  # type: ignore[attr-defined]
    return client


def adjust(client: Client, accounts, **data):
    return client.post(
        reverse("admin:credits_creditaccount_changelist"),
        {"action": "adjust_credits", "_selected_action": [a.pk for a in accounts], **data},
        follow=True,
    )


def test_accounts_list_shows_balances(admin_client):
    account = CreditAccountFactory(credits=1234)

    html = admin_client.get(reverse("admin:credits_creditaccount_changelist")).content.decode()

    assert account.user.email in html
    assert "1234" in html


def test_adjust_action_asks_for_amount_and_reason(admin_client):
    account = CreditAccountFactory(credits=10)

    response = adjust(admin_client, [account])

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="amount"' in html
    assert 'name="reason"' in html
    assert CreditAccount.objects.get(pk=account.pk).balance == 10


def test_adjust_action_goes_through_the_service(admin_client):
    first = CreditAccountFactory(credits=10)
    second = CreditAccountFactory(credits=20)

    response = adjust(admin_client, [first, second], apply="yes", amount="-4", reason="Duplicate grant")

    assert response.status_code == 200
    assert "Adjusted 2 account(s)" in response.content.decode()
    assert CreditAccount.objects.get(pk=first.pk).balance == 6
    assert CreditAccount.objects.get(pk=second.pk).balance == 16
    entries = LedgerEntry.objects.filter(kind=Kind.ADJUSTMENT)
    assert entries.count() == 2
    for entry in entries:
        assert entry.amount == -4
        assert entry.description == "Duplicate grant"
        assert entry.actor == admin_client.admin
    assert selectors.accounts_out_of_balance() == []


def test_adjust_action_never_takes_an_account_below_zero(admin_client):
    poor = CreditAccountFactory(credits=2)
    rich = CreditAccountFactory(credits=50)

    response = adjust(admin_client, [poor, rich], apply="yes", amount="-5", reason="Correction")

    html = response.content.decode()
    assert "Insufficient credits" in html
    assert CreditAccount.objects.get(pk=poor.pk).balance == 2
    assert CreditAccount.objects.get(pk=rich.pk).balance == 45


@pytest.mark.parametrize(("amount", "reason"), [("5", ""), ("0", "Nothing"), ("lots", "Typo")])
def test_adjust_action_needs_a_valid_amount_and_a_reason(admin_client, amount, reason):
    account = CreditAccountFactory(credits=10)

    response = adjust(admin_client, [account], apply="yes", amount=amount, reason=reason)

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert CreditAccount.objects.get(pk=account.pk).balance == 10
    assert not LedgerEntry.objects.filter(kind=Kind.ADJUSTMENT).exists()


def test_adjust_action_needs_the_adjust_permission():
    account = CreditAccountFactory(credits=10)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(codename="view_creditaccount"),
        Permission.objects.get(codename="change_creditaccount"),
    )
    client = Client()
    client.force_login(staff)

    changelist = client.get(reverse("admin:credits_creditaccount_changelist")).content.decode()
    response = adjust(client, [account], apply="yes", amount="100", reason="Me")

    assert "adjust_credits" not in changelist
    assert CreditAccount.objects.get(pk=account.pk).balance == 10
    assert response.status_code == 200

    staff.user_permissions.add(Permission.objects.get(codename="adjust_credits"))
    adjust(client, [account], apply="yes", amount="100", reason="Granted by a permitted operator")
    assert CreditAccount.objects.get(pk=account.pk).balance == 110


def test_account_form_changes_the_threshold_but_not_the_balance(admin_client):
    account = CreditAccountFactory(credits=10)
    url = reverse("admin:credits_creditaccount_change", args=[account.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, {"low_balance_threshold": "25", "balance": "999999"})

    assert page.status_code == 200
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.balance == 10
    assert account.low_balance_threshold == 25


def test_accounts_cannot_be_added_or_deleted_in_the_admin(admin_client):
    account = CreditAccountFactory(credits=10)

    assert admin_client.get(reverse("admin:credits_creditaccount_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:credits_creditaccount_delete", args=[account.pk])).status_code == 403
    )
    assert CreditAccount.objects.filter(pk=account.pk).exists()


def test_ledger_entries_are_read_only_in_the_admin(admin_client):
    account = CreditAccountFactory(credits=10)
    entry = LedgerEntry.objects.get(account=account)

    listing = admin_client.get(reverse("admin:credits_ledgerentry_changelist"))
    detail = admin_client.get(reverse("admin:credits_ledgerentry_change", args=[entry.pk]))
    change = admin_client.post(
        reverse("admin:credits_ledgerentry_change", args=[entry.pk]),
        {"amount": "1000", "balance_after": "1000"},
    )
    add = admin_client.get(reverse("admin:credits_ledgerentry_add"))
    delete = admin_client.post(reverse("admin:credits_ledgerentry_delete", args=[entry.pk]), {"post": "yes"})
    bulk_delete = admin_client.post(
        reverse("admin:credits_ledgerentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )

    assert listing.status_code == 200
    assert account.user.email in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="amount"' not in detail.content.decode()
    assert change.status_code == 403
    assert add.status_code == 403
    assert delete.status_code == 403
    assert bulk_delete.status_code in (200, 302)
    entry.refresh_from_db()
    assert (entry.amount, entry.balance_after) == (10, 10)
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_price_edit_in_the_admin_reaches_the_price_cache(admin_client, django_capture_on_commit_callbacks):
    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 1
    price = Price.objects.get(operation=Operation.ASIN_LOOKUP)
    url = reverse("admin:credits_price_change", args=[price.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"credits": "4", "description": "Pricier"})

    assert response.status_code == 302
    price.refresh_from_db()
    assert (price.credits, price.description) == (4, "Pricier")
    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 4


def test_price_list_editable_and_new_operation(admin_client, django_capture_on_commit_callbacks):
    prices = list(Price.objects.order_by("operation"))
    data = {
        "form-TOTAL_FORMS": str(len(prices)),
        "form-INITIAL_FORMS": str(len(prices)),
        "_save": "Save",
    }
    for i, price in enumerate(prices):
        data[f"form-{i}-id"] = str(price.pk)
        data[f"form-{i}-credits"] = str(price.credits + (5 if price.operation == Operation.BULK_ITEM else 0))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:credits_price_changelist"), data)
        added = admin_client.post(
            reverse("admin:credits_price_add"),
            {"operation": "keepa_history", "credits": "6", "description": "History"},
        )

    assert response.status_code == 302
    assert added.status_code == 302
    assert selectors.price_get(operation=Operation.BULK_ITEM) == 6
    assert selectors.price_get(operation="keepa_history") == 6


def test_prices_cannot_be_deleted(admin_client):
    price = Price.objects.get(operation=Operation.ASIN_LOOKUP)

    response = admin_client.post(reverse("admin:credits_price_delete", args=[price.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Price.objects.filter(pk=price.pk).exists()
