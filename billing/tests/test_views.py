"""Billing pages: packs and Buy, the sandbox checkout, success and cancel."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from billing.models import Payment
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
