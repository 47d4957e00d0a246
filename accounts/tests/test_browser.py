"""The foundation's user journey in a real headless Chromium."""

import re

import pytest
import requests
from django.core import mail

from accounts.models import User
from accounts.tests.factories import PASSWORD

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
