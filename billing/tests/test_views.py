"""Billing pages: packs and Buy, the sandbox checkout, success and cancel, receipts."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from billing import checkout, payments
from billing.models import CreditPack, Payment
from billing.tests.factories import CreditPackFactory, PaymentFactory, paid_payment
from credits.models import LedgerEntry
from credits.selectors import balance_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_credits():
    return 0


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def pack():
    return CreditPackFactory(name="Starter", credits=500, price=900)


def buy(client, pack):
    return client.post(f"/billing/buy/{pack.pk}/")


class TestBillingPage:
    def test_needs_login(self, client):
        response = client.get("/billing/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_shows_the_packs_the_sandbox_notice_and_only_the_users_payments(self, signed_in, user, pack):
        CreditPackFactory(name="Hidden pack", active=False)
        mine = paid_payment(user=user, pack=pack)
        PaymentFactory(pack=CreditPackFactory(name="Someone else's pack", active=False))

        response = signed_in.get("/billing/")

        html = response.content.decode()
        assert response.status_code == 200
        assert "<h3>Starter</h3>" in html
        assert "$9.00" in html
        assert "Hidden pack" not in html
        assert "Sandbox payments." in html
        assert f'action="/billing/buy/{pack.pk}/"' in html
        assert "Someone else" not in html
        assert response.context["page_obj"].object_list == [mine]

    def test_with_stripe_configured_there_is_no_sandbox_notice(self, signed_in, pack, stripe_api):
        assert "Sandbox payments." not in signed_in.get("/billing/").content.decode()

    def test_without_any_checkout_buy_is_disabled(self, signed_in, pack, settings):
        settings.BILLING_SANDBOX_CHECKOUT = False
        html = signed_in.get("/billing/").content.decode()
        assert "payments are not configured" in html
        assert "disabled" in html

    def test_each_pack_shows_its_price_per_credit_and_the_best_value_is_marked(self, signed_in, pack):
        CreditPack.objects.exclude(pk=pack.pk).delete()  # the data migration's defaults
        growth = CreditPackFactory(name="Growth", credits=2500, price=3900)

        response = signed_in.get("/billing/")

        html = response.content.decode()
        assert "$0.0180 per credit" in html  # Starter: $9.00 for 500
        assert "$0.0156 per credit" in html  # Growth: $39.00 for 2,500
        assert response.context["best_value_ids"] == {growth.pk}
        growth_card = html[html.index(f'data-pack="{growth.pk}"') :]
        starter_card = html[html.index(f'data-pack="{pack.pk}"') : html.index(f'data-pack="{growth.pk}"')]
        assert "Best value" in growth_card[: growth_card.index("</article>")]
        assert "lowest price per credit" in growth_card[: growth_card.index("</article>")]
        assert "Best value" not in starter_card

    def test_a_single_pack_is_not_called_the_best_value(self, signed_in, pack):
        CreditPack.objects.exclude(pk=pack.pk).delete()
        assert "Best value" not in signed_in.get("/billing/").content.decode()

    def test_an_abandoned_checkout_says_so_and_offers_no_completion(self, signed_in, user, pack):
        expired = PaymentFactory(user=user, pack=pack)
        checkout.payment_close(checkout_session_id=expired.checkout_session_id, status="expired")
        past_expiry = PaymentFactory(
            user=user, pack=pack, expires_at=timezone.now() - dt.timedelta(minutes=1)
        )
        still_open = PaymentFactory(
            user=user, pack=pack, expires_at=timezone.now() + dt.timedelta(minutes=30)
        )

        html = signed_in.get("/billing/").content.decode()

        assert html.count("Checkout abandoned - expired") == 2
        assert f'href="{still_open.checkout_url}"' in html
        assert f'href="{expired.checkout_url}"' not in html
        assert f'href="{past_expiry.checkout_url}"' not in html
        assert html.count(">Complete</a>") == 1

    def test_paid_payments_link_their_receipt_and_the_history_scrolls_on_phones(self, signed_in, user, pack):
        paid = paid_payment(user=user, pack=pack)
        PaymentFactory(user=user, pack=pack)  # pending: no receipt

        html = signed_in.get("/billing/").content.decode()

        assert html.count(">Receipt</a>") == 1
        assert f'href="/billing/receipts/{paid.reference}/"' in html
        assert '<div class="table-scroll" tabindex="0">' in html

    def test_the_navigation_links_to_billing(self, signed_in):
        assert 'href="/billing/"' in signed_in.get("/").content.decode()


class TestBuy:
    def test_in_the_sandbox_goes_to_the_platforms_sandbox_checkout(self, signed_in, user, pack):
        response = buy(signed_in, pack)
        payment = Payment.objects.get()
        assert response.status_code == 302
        assert response["Location"] == f"/billing/sandbox/{payment.checkout_session_id}/"
        assert (payment.user, payment.status, payment.provider) == (user, "pending", "sandbox")

    def test_with_stripe_goes_to_stripes_checkout(self, signed_in, pack, stripe_api):
        response = buy(signed_in, pack)
        payment = Payment.objects.get()
        assert response.status_code == 302
        assert response["Location"] == payment.checkout_url
        assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")

    def test_a_pack_not_on_sale_shows_the_message(self, signed_in):
        retired = CreditPackFactory(active=False)
        response = signed_in.post(f"/billing/buy/{retired.pk}/", follow=True)
        assert "No such credit pack on sale." in response.content.decode()
        assert not Payment.objects.exists()

    def test_only_post(self, signed_in, pack):
        assert signed_in.get(f"/billing/buy/{pack.pk}/").status_code == 405


class TestSandboxCheckout:
    def test_is_clearly_labelled_and_pay_grants_once(self, signed_in, user, pack):
        sandbox_url = buy(signed_in, pack)["Location"]
        page = signed_in.get(sandbox_url)
        assert page.status_code == 200
        assert "Sandbox checkout — no real payment" in page.content.decode()
        assert "Pay $9.00 (sandbox)" in page.content.decode()

        paid = signed_in.post(sandbox_url)
        session_id = Payment.objects.get().checkout_session_id
        assert paid.status_code == 302
        assert paid["Location"] == f"/billing/success/?session_id={session_id}"
        again = signed_in.post(sandbox_url)  # a double click or a resubmitted form
        assert again["Location"] == paid["Location"]

        assert balance_get(user=user) == 500
        assert LedgerEntry.objects.filter(account__user=user, kind="purchase").count() == 1
        success = signed_in.get(paid["Location"]).content.decode()
        assert "500 credits</strong> were added" in success
        assert 'id="credit-balance">500<' in success

    def test_shows_the_price_per_credit_and_until_when_it_is_open(self, signed_in, pack):
        html = signed_in.get(buy(signed_in, pack)["Location"]).content.decode()
        assert "<dt>Price per credit</dt><dd>$0.0180</dd>" in html
        assert "<dt>Open until</dt>" in html

    def test_an_expired_checkout_says_so_and_cannot_be_paid(self, signed_in, user, pack):
        sandbox_url = buy(signed_in, pack)["Location"]
        Payment.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

        page = signed_in.get(sandbox_url).content.decode()
        assert "Checkout abandoned - expired" in page
        assert "Pay $9.00" not in page

        refused = signed_in.post(sandbox_url, follow=True)
        assert "This checkout expired; start a new one." in refused.content.decode()
        assert Payment.objects.get().status == "expired"
        assert balance_get(user=user) == 0

    def test_reopening_a_paid_sandbox_checkout_goes_to_its_success_page(self, signed_in, pack):
        sandbox_url = buy(signed_in, pack)["Location"]
        signed_in.post(sandbox_url)
        response = signed_in.get(sandbox_url)
        assert response.status_code == 302
        assert response["Location"].startswith("/billing/success/")

    def test_someone_elses_sandbox_checkout_is_not_found(self, client, pack):
        owner = UserFactory()
        client.force_login(owner)
        sandbox_url = buy(client, pack)["Location"]
        client.force_login(UserFactory())
        assert client.get(sandbox_url).status_code == 404
        assert client.post(sandbox_url).status_code == 404
        assert client.post(f"{sandbox_url}cancel/").status_code == 404
        assert balance_get(user=owner) == 0
        assert Payment.objects.get().status == "pending"

    def test_a_stripe_session_has_no_sandbox_page(self, signed_in, user):
        payment = PaymentFactory(user=user)
        assert signed_in.get(f"/billing/sandbox/{payment.checkout_session_id}/").status_code == 404
        assert signed_in.post(f"/billing/sandbox/{payment.checkout_session_id}/").status_code == 404

    def test_cancel_closes_it_and_it_can_no_longer_be_paid(self, signed_in, user, pack):
        sandbox_url = buy(signed_in, pack)["Location"]
        cancelled = signed_in.post(f"{sandbox_url}cancel/", follow=True)
        assert "Checkout cancelled" in cancelled.content.decode()
        assert Payment.objects.get().status == "expired"

        refused = signed_in.post(sandbox_url, follow=True)
        assert "This checkout was cancelled" in refused.content.decode()
        assert balance_get(user=user) == 0


class TestSuccessPage:
    def test_a_payment_not_confirmed_yet_waits_and_refreshes(self, signed_in, user):
        payment = PaymentFactory(user=user)
        response = signed_in.get(f"/billing/success/?session_id={payment.checkout_session_id}")
        html = response.content.decode()
        assert "Confirming your payment" in html
        assert '<meta http-equiv="refresh" content="3">' in html
        assert response["Cache-Control"] == "no-store"

    def test_a_paid_payment_shows_its_credits(self, signed_in, user):
        payment = paid_payment(user=user, pack=CreditPackFactory(credits=2500))
        html = signed_in.get(f"/billing/success/?session_id={payment.checkout_session_id}").content.decode()
        assert "2,500 credits</strong> were added" in html
        assert "refresh" not in html

    def test_someone_elses_payment_is_not_found(self, signed_in):
        payment = paid_payment()
        assert signed_in.get(f"/billing/success/?session_id={payment.checkout_session_id}").status_code == 404
        assert signed_in.get("/billing/success/").status_code == 404


RECEIPT = "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xTTJKVGtMa2RJd0h1N2l4KOSN4aQGMgY"


class TestReceipt:
    def url(self, payment):
        return f"/billing/receipts/{payment.reference}/"

    def test_shows_what_was_bought_and_paid_in_the_users_time_zone(self, signed_in, user):
        payment = paid_payment(user=user, pack=CreditPackFactory(name="Growth", credits=2500, price=3900))
        Payment.objects.filter(pk=payment.pk).update(paid_at=dt.datetime(2026, 12, 7, 10, 5, tzinfo=dt.UTC))
        payment.refresh_from_db()
        signed_in.cookies["tz"] = "Europe/Berlin"

        response = signed_in.get(self.url(payment))

        html = response.content.decode()
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, no-store"
        assert "Product Intelligence" in html
        assert payment.receipt_number.startswith("R-20261207-")
        assert f'<dd id="receipt-number">{payment.receipt_number}</dd>' in html
        assert '<dd id="receipt-date">7 Dec 2026, 11:05 CET</dd>' in html
        assert "<dt>Pack</dt><dd>Growth</dd>" in html
        assert "<dt>Credits</dt><dd>2,500</dd>" in html
        assert '<dd id="receipt-amount">$39.00 (USD)</dd>' in html
        assert '<dd id="receipt-method">Stripe</dd>' in html
        assert "Refunds" not in html
        assert "Stripe's receipt" not in html  # no event brought one

    def test_links_stripes_receipt_when_an_event_brought_it(self, signed_in, user):
        payment = paid_payment(user=user)
        checkout.payment_charge_record(payment=payment, charge_id="ch_1", receipt_url=RECEIPT)
        html = signed_in.get(self.url(payment)).content.decode()
        assert f'href="{RECEIPT}"' in html

    def test_lists_refunds_and_the_net_paid(self, signed_in, user):
        payment = paid_payment(user=user, pack=CreditPackFactory(credits=500, price=900))
        payments.payment_refund_apply(
            payment=payment, charge_id="ch_1", charge_amount=900, amount_refunded=300
        )

        html = signed_in.get(self.url(payment)).content.decode()

        assert '<table id="receipt-refunds">' in html
        assert '<td class="num">$3.00</td>' in html
        assert '<dd id="receipt-net">$6.00 (USD)</dd>' in html
        assert "<dt>Refunded</dt><dd>$3.00</dd>" in html

    def test_a_sandbox_payment_is_labelled(self, signed_in, user):
        payment = start_and_pay_in_the_sandbox(signed_in, CreditPackFactory())
        html = signed_in.get(self.url(payment)).content.decode()
        assert '<dd id="receipt-method">Sandbox (no real payment)</dd>' in html
        assert "no real payment was made" in html

    def test_someone_elses_or_an_unpaid_or_unknown_payment_has_none(self, signed_in, user):
        assert signed_in.get(self.url(paid_payment())).status_code == 404
        assert signed_in.get(self.url(PaymentFactory(user=user))).status_code == 404
        assert signed_in.get(f"/billing/receipts/{uuid.uuid4()}/").status_code == 404
        assert signed_in.get("/billing/receipts/not-a-uuid/").status_code == 404

    def test_needs_login(self, client):
        response = client.get(self.url(paid_payment()))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def start_and_pay_in_the_sandbox(client, pack):
    sandbox_url = buy(client, pack)["Location"]
    client.post(sandbox_url)
    return Payment.objects.get(checkout_session_id=sandbox_url.split("/")[-2])


def test_the_cancel_page(signed_in):
    assert "Nothing was charged" in signed_in.get("/billing/cancel/").content.decode()


MALFORMED_SESSION_IDS = [
    pytest.param("a%00b", id="nul"),
    pytest.param("sandbox_cs_a%00b", id="nul-in-a-sandbox-id"),
    pytest.param("%ff%fe", id="not-utf-8"),
    # Past the 255 characters of an id, under MAX_URL_LENGTH (a longer URL is 414 first).
    pytest.param("sandbox_cs_" + "a" * 300, id="too-long"),
]


@pytest.mark.parametrize("session_id", MALFORMED_SESSION_IDS)
def test_a_malformed_session_id_is_not_found_on_every_checkout_page(signed_in, session_id):
    assert signed_in.get(f"/billing/success/?session_id={session_id}").status_code == 404
    assert signed_in.get(f"/billing/sandbox/{session_id}/").status_code == 404
    assert signed_in.post(f"/billing/sandbox/{session_id}/").status_code == 404
    assert signed_in.post(f"/billing/sandbox/{session_id}/cancel/").status_code == 404
    assert not Payment.objects.exists()
