"""Buying credits in the sandbox checkout, in a real headless Chromium."""

import datetime as dt
import re

import pytest

from accounts.tests.factories import PASSWORD, UserFactory
from billing import payments
from billing.models import Payment
from billing.tests.factories import CreditPackFactory, paid_payment
from credits.models import LedgerEntry
from credits.selectors import balance_get

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_buy_a_pack_in_the_sandbox_checkout(browser_page, live_server):
    page = browser_page
    base = live_server.url
    user = UserFactory()
    CreditPackFactory(name="Browser Starter", credits=500, price=900, order=1)
    CreditPackFactory(name="Browser Growth", credits=2500, price=3900, order=2)

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")

    page.nav("Billing")
    page.wait_for_url(f"{base}/billing/")
    assert page.get_by_text("Sandbox payments.").is_visible()
    assert page.locator("#credit-balance").inner_text() == "0"
    page.shot("billing-page")

    page.get_by_role("button", name="Buy the Browser Starter pack").click()
    page.wait_for_url(re.compile(r".*/billing/sandbox/sandbox_cs_[0-9a-f]+/$"))
    assert page.get_by_role("heading", name="Sandbox checkout — no real payment").is_visible()
    page.shot("sandbox-checkout")

    page.get_by_role("button", name="Pay $9.00 (sandbox)").click()
    page.wait_for_url(re.compile(r".*/billing/success/\?session_id=sandbox_cs_[0-9a-f]+$"))
    assert page.locator("#credits-granted").inner_text().startswith("500 credits were added")
    assert page.locator("#credit-balance").inner_text() == "500"
    page.shot("success")

    # Back to the checkout and reload: it leads to the success page, nothing more is granted.
    page.go_back()
    page.reload()
    page.wait_for_url(re.compile(r".*/billing/success/.*"))

    page.goto(f"{base}/billing/")
    row = page.locator("#payments tbody tr").first
    assert "Browser Starter" in row.inner_text()
    assert "Paid" in row.inner_text()
    assert page.locator("#credit-balance").inner_text() == "500"
    page.shot("payment-history")

    assert balance_get(user=user) == 500
    assert LedgerEntry.objects.filter(account__user=user, kind="purchase").count() == 1
    assert Payment.objects.get().status == "paid"


def test_the_admin_revenue_report_draws_its_chart(browser_page, live_server):
    page = browser_page
    base = live_server.url
    operator = UserFactory(is_staff=True, is_superuser=True)
    payment = paid_payment(pack=CreditPackFactory(name="Chart pack", credits=500, price=900))
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    Payment.objects.filter(pk=payment.pk).update(paid_at=yesterday)
    payments.payment_refund_apply(
        payment=payment, charge_id="ch_chart", charge_amount=900, amount_refunded=300
    )

    page.goto(f"{base}/admin/login/")
    page.fill("input[name=username]", operator.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{base}/admin/billing/payment/")
    page.get_by_role("link", name="Revenue report").click()
    page.wait_for_url(f"{base}/admin/billing/payment/revenue/")

    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('revenue-chart'))")
    labels = page.evaluate(
        "() => Chart.getChart(document.getElementById('revenue-chart')).data.datasets.map(d => d.label)"
    )
    assert labels == ["Net USD", "Refunds USD"]
    assert "Chart pack" in page.locator("#revenue-by-pack").inner_text()
    assert "$6.00" in page.locator("#revenue-totals").inner_text()
    page.shot("admin-revenue")
