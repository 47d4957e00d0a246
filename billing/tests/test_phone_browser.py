"""The billing page and a receipt on a phone (390 x 844), in a real headless Chromium."""

from pathlib import Path

import pytest

from accounts.tests.factories import PASSWORD, UserFactory
from billing import checkout, payments
from billing.models import CreditPack
from billing.tests.factories import CreditPackFactory, PaymentFactory, paid_payment

BASE_DIR = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}
FITS_THE_WIDTH = "() => document.documentElement.scrollWidth <= window.innerWidth"


pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_the_billing_page_and_a_receipt_fit_a_phone(browser_page, live_server):
    page = browser_page
    base = live_server.url
    user = UserFactory()
    CreditPack.objects.all().delete()  # the data migration's defaults, where present
    starter = CreditPackFactory(name="Phone Starter", credits=500, price=900, order=1)
    growth = CreditPackFactory(name="Phone Growth with a long name", credits=2500, price=3900, order=2)
    paid = paid_payment(user=user, pack=growth)
    checkout.payment_charge_record(
        payment=paid, charge_id="ch_phone", receipt_url="https://pay.stripe.com/receipts/payment/CAcaFwoV"
    )
    payments.payment_refund_apply(
        payment=paid, charge_id="ch_phone", charge_amount=3900, amount_refunded=1300
    )
    abandoned = PaymentFactory(user=user, pack=growth)
    checkout.payment_close(checkout_session_id=abandoned.checkout_session_id, status="expired")

    page.set_viewport_size(PHONE)
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/billing/")
    assert page.locator(f'[data-pack="{starter.pk}"]').get_by_text("$0.0180 per credit").is_visible()
    assert page.locator(f'[data-pack="{growth.pk}"]').get_by_text("Best value").is_visible()
    history = page.locator("#payments")
    assert history.get_by_text("Checkout abandoned - expired").is_visible()
    assert page.evaluate(FITS_THE_WIDTH)
    page.shot("billing-phone")

    history.get_by_role("link", name="Receipt").click()
    page.wait_for_url(f"{base}/billing/receipts/{paid.reference}/")
    assert page.get_by_role("heading", name=f"Receipt {paid.receipt_number}").is_visible()
    assert page.locator("#receipt-amount").inner_text() == "$39.00 (USD)"
    assert page.locator("#receipt-net").inner_text() == "$26.00 (USD)"
    assert page.locator("#receipt-refunds").is_visible()
    assert page.get_by_role("link", name="Stripe's receipt for this charge").is_visible()
    assert page.evaluate(FITS_THE_WIDTH)
    page.shot("receipt-phone")
