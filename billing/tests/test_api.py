"""The payments API: packs, checkout, a user's payments."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory, api_key_for
from billing.models import CreditPack, Payment
from billing.tests.factories import CreditPackFactory, PaymentFactory, paid_payment

pytestmark = pytest.mark.django_db

PACKS_URL = "/api/v1/payments/packs"
CHECKOUT_URL = "/api/v1/payments/checkout"
HISTORY_URL = "/api/v1/payments/history"


def bearer(user) -> APIClient:
    _, raw = api_key_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


class TestPacks:
    def test_lists_the_active_packs_in_order_with_their_price(self):
        CreditPack.objects.all().delete()  # the data migration's defaults have their own test
        big = CreditPackFactory(name="Pro", credits=10_000, price=12_900, order=30)
        small = CreditPackFactory(name="Starter", credits=500, price=900, order=10)
        CreditPackFactory(name="Retired", active=False, order=20)

        response = bearer(UserFactory()).get(PACKS_URL)

        assert response.status_code == 200
        assert response.json() == [
            {
                "id": small.pk,
                "name": "Starter",
                "credits": 500,
                "price": 900,
                "currency": "usd",
                "price_display": "$9.00",
                "price_per_credit": "0.01800000",
                "price_per_credit_display": "$0.0180",
                "best_value": False,
            },
            {
                "id": big.pk,
                "name": "Pro",
                "credits": 10_000,
                "price": 12_900,
                "currency": "usd",
                "price_display": "$129.00",
                "price_per_credit": "0.01290000",
                "price_per_credit_display": "$0.0129",
                "best_value": True,
            },
        ]

    def test_best_value_is_per_currency_and_only_among_different_prices(self):
        CreditPack.objects.all().delete()
        usd_small = CreditPackFactory(credits=500, price=900, currency="usd")
        usd_big = CreditPackFactory(credits=3000, price=5000, currency="usd")
        eur_only = CreditPackFactory(credits=100, price=100, currency="eur")
        jpy_a = CreditPackFactory(credits=100, price=1000, currency="jpy")
        jpy_b = CreditPackFactory(credits=200, price=2000, currency="jpy")

        body = bearer(UserFactory()).get(PACKS_URL).json()

        best = {pack["id"]: pack["best_value"] for pack in body}
        assert best == {
            usd_small.pk: False,
            usd_big.pk: True,  # 1.667 cents a credit, against 1.8
            eur_only.pk: False,  # alone in its currency: nothing to compare with
            jpy_a.pk: False,  # the same price per credit: no best value
            jpy_b.pk: False,
        }
        per_credit = {pack["id"]: pack["price_per_credit_display"] for pack in body}
        assert per_credit[usd_big.pk] == "$0.0167"
        assert per_credit[jpy_a.pk] == "¥10.00"

    def test_needs_authentication(self):
        assert_error(APIClient().get(PACKS_URL), 401, "not_authenticated")


class TestCheckout:
    def test_sandbox_checkout_answers_with_the_session_and_its_page(self):
        user = UserFactory()
        pack = CreditPackFactory(credits=500, price=900)

        response = bearer(user).post(CHECKOUT_URL, {"pack": pack.pk}, format="json")

        assert response.status_code == 201, response.content
        body = response.json()
        payment = Payment.objects.get()
        assert body["id"] == payment.checkout_session_id
        assert body["id"].startswith("sandbox_cs_")
        assert body["url"] == f"http://testserver/billing/sandbox/{body['id']}/"
        assert body["sandbox"] is True
        assert body["payment"]["id"] == str(payment.reference)
        assert body["payment"]["status"] == "pending"
        assert body["payment"]["pack"] == {"id": pack.pk, "name": pack.name}
        assert (body["payment"]["credits"], body["payment"]["amount"], body["payment"]["currency"]) == (
            500,
            900,
            "usd",
        )
        assert payment.user == user

    def test_stripe_checkout_answers_with_stripes_session(self, stripe_api):
        user = UserFactory()
        pack = CreditPackFactory()

        response = bearer(user).post(CHECKOUT_URL, {"pack": pack.pk}, format="json")

        assert response.status_code == 201, response.content
        body = response.json()
        assert body["id"].startswith("cs_test_")
        assert body["url"].startswith(f"https://checkout.stripe.com/c/pay/{body['id']}")
        assert body["sandbox"] is False
        [request] = stripe_api.requests
        assert request.form["success_url"] == [
            "http://testserver/billing/success/?session_id={CHECKOUT_SESSION_ID}"
        ]
        assert request.form["cancel_url"] == ["http://testserver/billing/cancel/"]
        assert request.form["client_reference_id"] == [str(user.pk)]

    def test_a_stripe_failure_is_a_502_in_the_error_shape(self, stripe_api):
        stripe_api.fail_with = (
            401,
            {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}},
        )
        response = bearer(UserFactory()).post(CHECKOUT_URL, {"pack": CreditPackFactory().pk}, format="json")
        assert_error(response, 502, "payment_provider_error")
        assert not Payment.objects.exists()

    @pytest.mark.parametrize("body", [{}, {"pack": "one"}, {"pack": 0}, {"pack": None}])
    def test_invalid_input(self, body):
        assert_error(bearer(UserFactory()).post(CHECKOUT_URL, body, format="json"), 400, "invalid")

    def test_a_pack_not_on_sale_is_not_found(self):
        retired = CreditPackFactory(active=False)
        response = bearer(UserFactory()).post(CHECKOUT_URL, {"pack": retired.pk}, format="json")
        assert_error(response, 404, "pack_not_found")

    def test_checkout_unavailable_without_stripe_or_sandbox(self, settings):
        settings.BILLING_SANDBOX_CHECKOUT = False
        response = bearer(UserFactory()).post(CHECKOUT_URL, {"pack": CreditPackFactory().pk}, format="json")
        assert_error(response, 503, "checkout_unavailable")

    def test_needs_authentication(self):
        assert_error(APIClient().post(CHECKOUT_URL, {"pack": 1}, format="json"), 401, "not_authenticated")

    def test_the_payment_says_when_its_checkout_expires(self, settings):
        settings.BILLING_CHECKOUT_EXPIRY_MINUTES = 45
        response = bearer(UserFactory()).post(CHECKOUT_URL, {"pack": CreditPackFactory().pk}, format="json")
        assert response.status_code == 201
        payment = Payment.objects.get()
        assert payment.expires_at is not None
        assert response.json()["payment"]["expires_at"] == payment.expires_at.isoformat().replace(
            "+00:00", "Z"
        )

    def test_a_checkouts_status_is_its_owners_only(self):
        payment = paid_payment()
        response = bearer(payment.user).get(f"{CHECKOUT_URL}/{payment.checkout_session_id}")
        assert response.status_code == 200
        assert response.json()["status"] == "paid"
        assert response.json()["credits_granted"] == payment.credits

        other = bearer(UserFactory()).get(f"{CHECKOUT_URL}/{payment.checkout_session_id}")
        assert_error(other, 404, "payment_not_found")

    @pytest.mark.parametrize(
        "session_id",
        [
            pytest.param("a%00b", id="nul"),
            pytest.param("cs_test_a%00b", id="nul-in-a-stripe-id"),
            pytest.param("%ff%fe", id="not-utf-8"),
            # Past the 255 characters of an id, under MAX_URL_LENGTH (a longer URL is 414 first).
            pytest.param("cs_test_" + "a" * 300, id="too-long"),
            pytest.param("cs_test_a%20b", id="a-space"),
        ],
    )
    def test_a_malformed_session_id_is_not_found(self, session_id):
        PaymentFactory()
        response = bearer(UserFactory()).get(f"{CHECKOUT_URL}/{session_id}")
        assert_error(response, 404, "payment_not_found")


class TestHistory:
    def test_lists_only_the_users_own_payments_newest_first(self):
        user = UserFactory()
        older = paid_payment(user=user)
        newer = PaymentFactory(user=user)
        PaymentFactory()  # someone else's

        response = bearer(user).get(HISTORY_URL)

        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 2
        assert [p["id"] for p in body["results"]] == [str(newer.reference), str(older.reference)]
        assert "credits_shortfall" not in body["results"][0]


def test_the_schema_documents_the_payments_api_and_stripes_webhook_as_signed_not_keyed(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/payments/packs" in schema["paths"]
    assert "/api/v1/payments/checkout" in schema["paths"]
    webhook = schema["paths"]["/api/v1/payments/webhook"]["post"]
    assert "security" not in webhook  # no API key: the Stripe-Signature header is the authentication
    assert [p["name"] for p in webhook["parameters"]] == ["Stripe-Signature"]
    assert "400" in webhook["responses"]
