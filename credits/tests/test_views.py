import json
import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory
from credits import services
from credits.models import CreditAccount, LedgerEntry, Operation
from credits.tests.factories import funded_user, new_key

pytestmark = pytest.mark.django_db

PAGE = "/credits/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def chart_data(html: str) -> dict:
    match = re.search(r'<script id="usage-chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the chart data block is missing"
    return json.loads(match.group(1))


def test_page_needs_login():
    response = Client().get(PAGE)

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_page_shows_balance_chart_and_history():
    user = funded_user(30)
    services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    services.credits_charge(user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=new_key())

    response = logged_in(user).get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="credit-balance">27 ' in html
    data = chart_data(html)
    assert len(data["labels"]) == 30
    assert {d["label"]: d["data"][-1] for d in data["datasets"]} == {"ASIN lookup": 1, "FNSKU conversion": 2}
    assert "<canvas" in html
    assert "vendor/chartjs/chart.umd.js" in html
    assert "js/credits.js" in html
    # Nothing from a CDN: every script and stylesheet is ours (a bare "cdn" could be in a CSRF token).
    assert not re.findall(r"""(?:src|href)=["'](?:https?:)?//""", html)
    assert html.count("<tr>") == 1 + 3  # header and three entries
    assert "/api/v1/credits/transactions?format=csv" in html
    assert "low-balance-notice" not in html


def test_chart_js_is_served_from_the_npm_package():
    path = finders.find("vendor/chartjs/chart.umd.js")

    assert path, "run `make install` (npm ci) to install Chart.js"
    assert "node_modules" in path
    assert finders.find("js/credits.js")


def test_usage_period_can_be_chosen():
    user = funded_user(5)

    html = logged_in(user).get(PAGE, {"days": 7}).content.decode()

    assert len(chart_data(html)["labels"]) == 7


def test_history_is_paginated_and_filterable():
    user = funded_user(100)
    for _ in range(30):
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    client = logged_in(user)

    first = client.get(PAGE).content.decode()
    second = client.get(PAGE, {"page": 2}).content.decode()
    grants = client.get(PAGE, {"kind": "grant"}).content.decode()

    assert "Page 1 of 2" in first
    assert "31 entries" in first
    assert "Page 2 of 2" in second
    assert second.count("<tr>") == 1 + 6
    assert grants.count("<tr>") == 1 + 1
    assert "format=csv&amp;kind=grant" in grants or "kind=grant&amp;format=csv" in grants


def test_only_own_transactions_are_listed():
    user = funded_user(5)
    other = funded_user(5)
    services.credits_adjust(user=other, amount=1, reason="Someone else's secret", actor=None)

    html = logged_in(user).get(PAGE).content.decode()

    assert "Someone else" not in html


def test_low_balance_notice_below_the_users_threshold():
    user = funded_user(5)
    client = logged_in(user)

    response = client.post(reverse("credits-threshold"), {"threshold": "10"}, follow=True)

    assert CreditAccount.objects.get(user=user).low_balance_threshold == 10
    html = response.content.decode()
    assert "low-balance-notice" in html
    assert "below 10 credits" in html

    client.post(reverse("credits-threshold"), {"threshold": ""})
    assert CreditAccount.objects.get(user=user).low_balance_threshold is None
    assert "low-balance-notice" not in client.get(PAGE).content.decode()


def test_invalid_threshold_is_refused():
    user = funded_user(5)
    services.credits_threshold_set(user=user, threshold=3)

    response = logged_in(user).post(reverse("credits-threshold"), {"threshold": "-4"}, follow=True)

    assert CreditAccount.objects.get(user=user).low_balance_threshold == 3
    assert "greater than or equal to 0" in response.content.decode()


def test_threshold_needs_post():
    user = funded_user(5)

    assert logged_in(user).get(reverse("credits-threshold")).status_code == 405


def test_dashboard_shows_the_balance_card():
    user = funded_user(12)
    services.credits_threshold_set(user=user, threshold=20)

    html = logged_in(user).get(reverse("home")).content.decode()

    assert 'id="credits-card"' in html
    assert "12 <span" in html
    assert "Your balance is low" in html
    assert f'href="{PAGE}"' in html


def test_nav_links_to_the_credits_page():
    user = funded_user(1)

    html = logged_in(user).get(reverse("api-keys")).content.decode()

    assert f'href="{PAGE}">Credits</a>' in html


def test_signup_opens_the_account_with_the_bonus(settings, mailoutbox):
    settings.SIGNUP_FREE_CREDITS = 40

    response = Client().post(
        reverse("account_signup"),
        {"email": "signup@example.com", "password1": "a-Long-passw0rd!", "password2": "a-Long-passw0rd!"},
    )

    assert response.status_code == 302
    user = User.objects.get(email="signup@example.com")
    assert EmailAddress.objects.filter(user=user).exists()
    account = CreditAccount.objects.get(user=user)
    assert account.balance == 40
    assert LedgerEntry.objects.get(account=account).kind == LedgerEntry.Kind.GRANT


def test_a_user_created_elsewhere_sees_an_account_opened():
    user = UserFactory()

    response = logged_in(user).get(PAGE)

    assert response.status_code == 200
    assert CreditAccount.objects.filter(user=user).exists()
