"""The scanner page in headless Chromium: a scanned EAN shows the ASINs carrying it."""

import pytest

from accounts.tests.factories import PASSWORD
from credits.models import Price
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.providers.sandbox import code_asins

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEVERAL = "5901234123457"  # three ASINs in the sandbox


def test_a_scanned_barcode_lists_its_asins(browser_page, live_server):
    # A transactional test starts from a flushed database: the price row of migration 0003.
    Price.objects.get_or_create(operation="code_lookup", defaults={"credits": 1})
    page = browser_page
    base = live_server.url
    user = funded_user(credits=10)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/convert/")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'id_fnsku'")

    page.keyboard.type(f"{SEVERAL}\n", delay=5)
    page.wait_for_selector("#result-card[data-status=barcode]")
    page.shot("barcode-scan")

    card = page.inner_text("#result-card")
    assert f"EAN-13 {SEVERAL}" in card
    for asin in code_asins(SEVERAL):
        assert asin in card
    assert "3 ASINs carry this barcode." in card
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 1")
    row = page.inner_text("#scan-list tbody tr")
    assert SEVERAL in row
    assert " ".join(code_asins(SEVERAL)) in row
    assert "barcode" in row
    assert page.input_value("#id_fnsku") == ""
    assert errors == []
    assert balance_get(user=user) == 9
