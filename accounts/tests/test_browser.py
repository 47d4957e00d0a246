"""The foundation's user journey in a real headless Chromium."""

import re

import pytest
import requests
from django.core import mail

from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory
from config.tests.phone import sideways

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_confirm_create_use_and_revoke_an_api_key(browser_page, live_server):
    page = browser_page
    base = live_server.url

    page.goto(f"{base}/")
    page.shot("landing")
    page.get_by_role("link", name="Create a free account").click()

    page.fill("input[name=email]", "browser.seller@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.shot("signup")
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(f"{base}/accounts/confirm-email/")
    page.shot("check-your-email")

    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body).group(1)
    page.goto(f"{base}{link}")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    page.shot("dashboard")

    page.nav("API keys")
    page.fill("input[name=name]", "Browser key")
    # The key lists keys below: that takes the keys:manage scope.
    page.get_by_label("Can manage API keys").check()
    page.get_by_role("button", name="Create key").click()
    raw_key = page.locator("#new-key-value").inner_text().strip()
    page.shot("key-created")

    api = f"{base}/api/v1/keys"
    listed = requests.get(api, headers={"Authorization": f"Bearer {raw_key}"}, timeout=10)
    assert listed.status_code == 200
    assert [k["name"] for k in listed.json()["results"]] == ["Browser key"]

    page.goto(f"{base}/keys/")
    assert raw_key not in page.content()
    page.get_by_role("button", name="Revoke").click()
    assert page.get_by_text("revoked").first.is_visible()
    page.shot("key-revoked")

    refused = requests.get(api, headers={"Authorization": f"Bearer {raw_key}"}, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "revoked_api_key"
    assert User.objects.get(email="browser.seller@example.com").emailaddress_set.get().verified


def test_the_landing_page_and_the_first_steps_fit_a_phone(browser_page, live_server):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url

    page.goto(f"{base}/")
    assert page.get_by_role("img", name="A lookup result on a phone").is_visible()
    assert page.get_by_role("heading", name="Pricing").is_visible()
    assert page.locator("#action-prices tr[data-action=asin_lookup]").is_visible()
    assert "free credits" in page.text_content("#free-credits")
    assert sideways(page) == []
    page.shot("landing-phone")

    user = UserFactory()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    assert "1 of 5 done" in page.text_content("#first-steps")
    page.get_by_role("link", name="Set up a watchlist").click()
    page.wait_for_url(f"{base}/watchlists/")
    page.goto(f"{base}/")
    page.wait_for_selector("#first-steps")
    assert sideways(page) == []
    page.shot("first-steps-phone")
    assert errors == []
