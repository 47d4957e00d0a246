"""Billing services: checkout start, the one fulfilment path, sandbox, refunds and disputes."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
import requests
import responses
from django.db.models import Sum
from django.utils import timezone

from accounts.tests.factories import UserFactory
from billing import checkout as checkouts
from billing import payments
from billing.errors import CheckoutUnavailable, EventNotReady, PaymentProviderError
from billing.models import Payment, Reversal
from billing.tests.factories import CreditPackFactory, PaymentFactory, paid_payment
from billing.tests.stripe_fakes import SECRET_KEY, checkout_session, new_id
from core.api_errors import http_status
from core.errors import ConflictError, NotFoundError
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.services import credits_adjust, credits_grant

pytestmark = pytest.mark.django_db

SUCCESS_URL = "http://testserver/billing/success/?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "http://testserver/billing/cancel/"


def start(user, pack):
    return checkouts.pack_checkout_start(
        user=user, pack_id=pack.pk, success_url=SUCCESS_URL, cancel_url=CANCEL_URL
    )


def entries(user, kind):
    return LedgerEntry.objects.filter(account__user=user, kind=kind)


def spend(user, amount):
    """The user spends credits (as metered operations would)."""
    credits_adjust(user=user, amount=-amount, reason="Spent in a test", actor=None)


# --- Checkout start ----------------------------------------------------------------------


class TestSandboxCheckoutStart:
    def test_opens_a_pending_sandbox_payment_with_a_page_on_the_platform(self):
        user = UserFactory()
        pack = CreditPackFactory(credits=500, price=900)

        checkout = start(user, pack)

        assert checkout.session_id.startswith("sandbox_cs_")
        assert checkout.url == f"/billing/sandbox/{checkout.session_id}/"
        payment = Payment.objects.get(checkout_session_id=checkout.session_id)
        assert (payment.user, payment.pack, payment.provider) == (user, pack, Payment.Provider.SANDBOX)
        assert (payment.status, payment.credits, payment.amount, payment.currency) == (
            "pending",
            500,
            900,
            "usd",
        )
        assert payment.credits_granted == 0
        assert balance_get(user=user) == 0

    def test_an_inactive_or_unknown_pack_is_not_for_sale(self):
        user = UserFactory()
        retired = CreditPackFactory(active=False)
        for pack_id in (retired.pk, 999_999):
            with pytest.raises(NotFoundError) as caught:
                checkouts.pack_checkout_start(
                    user=user, pack_id=pack_id, success_url=SUCCESS_URL, cancel_url=CANCEL_URL
                )
            assert caught.value.code == "pack_not_found"
        assert not Payment.objects.exists()

    def test_expires_after_the_configured_minutes(self, settings):
        settings.BILLING_CHECKOUT_EXPIRY_MINUTES = 45
        before = timezone.now()
        payment = start(UserFactory(), CreditPackFactory()).payment
        assert (
            before + dt.timedelta(minutes=45)
            <= payment.expires_at
            <= timezone.now() + dt.timedelta(minutes=45)
        )
        assert payment.can_complete
        assert not payment.is_abandoned

    def test_without_a_stripe_key_and_with_the_sandbox_off_nothing_is_sold(self, settings):
        settings.BILLING_SANDBOX_CHECKOUT = False
        with pytest.raises(CheckoutUnavailable) as caught:
            start(UserFactory(), CreditPackFactory())
        assert http_status(caught.value) == 503
        assert not Payment.objects.exists()


class TestStripeCheckoutStart:
    def test_sends_stripe_a_payment_mode_session_for_the_pack_and_the_user(self, stripe_api):
        user = UserFactory()
        pack = CreditPackFactory(name="Growth", credits=2500, price=3900, currency="eur")

        checkout = start(user, pack)

        [request] = stripe_api.requests
        form = {key: values[0] for key, values in request.form.items()}
        payment = checkout.payment
        assert (request.method, request.path) == ("POST", "/v1/checkout/sessions")
        assert request.headers["authorization"] == f"Bearer {SECRET_KEY}"
        assert request.headers["idempotency-key"] == f"checkout-start:{payment.reference}"
        assert form["mode"] == "payment"
        assert form["line_items[0][quantity]"] == "1"
        assert form["line_items[0][price_data][currency]"] == "eur"
        assert form["line_items[0][price_data][unit_amount]"] == "3900"
        assert form["line_items[0][price_data][product_data][name]"] == "Growth credit pack"
        assert form["client_reference_id"] == str(user.pk)
        assert form["customer_email"] == user.email
        assert form["metadata[user_id]"] == str(user.pk)
        assert form["metadata[pack_id]"] == str(pack.pk)
        assert form["metadata[payment_ref]"] == str(payment.reference)
        assert form["payment_intent_data[metadata][payment_ref]"] == str(payment.reference)
        assert form["success_url"] == SUCCESS_URL
        assert form["cancel_url"] == CANCEL_URL

        assert checkout.session_id.startswith("cs_test_")
        assert (
            checkout.url
            == f"https://checkout.stripe.com/c/pay/{checkout.session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0"
        )
        stored = Payment.objects.get(checkout_session_id=checkout.session_id)
        assert (stored.provider, stored.status, stored.user, stored.pack) == ("stripe", "pending", user, pack)
        assert (stored.credits, stored.amount, stored.currency) == (2500, 3900, "eur")
        assert stored.checkout_url == checkout.url

    def test_the_session_expires_after_the_configured_minutes_not_stripes_24_hours(self, stripe_api):
        before = int(time.time())

        checkout = start(UserFactory(), CreditPackFactory())

        [request] = stripe_api.requests
        expires_at = int(request.form["expires_at"][0])
        assert before + 3600 <= expires_at <= int(time.time()) + 3600  # the default, 60 minutes
        stored = Payment.objects.get(checkout_session_id=checkout.session_id)
        assert stored.expires_at == dt.datetime.fromtimestamp(expires_at, tz=dt.UTC)

    @pytest.mark.parametrize(
        ("minutes", "sent"), [("5", 31), ("30", 31), ("90", 90), ("1440", 1439), ("100000", 1439)]
    )
    def test_the_expiry_setting_stays_within_what_stripe_accepts(self, stripe_api, settings, minutes, sent):
        settings.BILLING_CHECKOUT_EXPIRY_MINUTES = int(minutes)
        before = int(time.time())

        start(UserFactory(), CreditPackFactory())  # the stand-in refuses what Stripe would

        expires_at = int(stripe_api.requests[0].form["expires_at"][0])
        assert before + sent * 60 <= expires_at <= int(time.time()) + sent * 60

    def test_each_checkout_has_its_own_idempotency_key(self, stripe_api):
        user, pack = UserFactory(), CreditPackFactory()
        first, second = start(user, pack), start(user, pack)
        keys = [r.headers["idempotency-key"] for r in stripe_api.requests]
        assert len(set(keys)) == 2
        assert first.session_id != second.session_id

    def test_a_stripe_error_is_a_502_and_stores_no_payment(self, stripe_api):
        stripe_api.fail_with = (
            400,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "parameter_invalid_integer",
                    "message": "Invalid integer: abc",
                    "param": "line_items[0][price_data][unit_amount]",
                }
            },
        )
        with pytest.raises(PaymentProviderError) as caught:
            start(UserFactory(), CreditPackFactory())
        assert http_status(caught.value) == 502
        assert caught.value.code == "payment_provider_error"
        assert not Payment.objects.exists()

    @responses.activate
    def test_talks_to_stripes_real_api_base_by_default(self, settings):
        settings.STRIPE_SECRET_KEY = SECRET_KEY  # STRIPE_API_BASE left at its default
        session_id = f"cs_test_{uuid.uuid4().hex}"
        session = checkout_session(
            session_id=session_id,
            user_id=1,
            pack_id=1,
            payment_status="unpaid",
            status="open",
            payment_intent="",
        )
        session.update(payment_intent=None, url=f"https://checkout.stripe.com/c/pay/{session_id}")
        responses.add(responses.POST, "https://api.stripe.com/v1/checkout/sessions", json=session, status=200)

        checkout = start(UserFactory(), CreditPackFactory(price=900))

        [call] = responses.calls
        assert call.request.headers["Idempotency-Key"] == f"checkout-start:{checkout.payment.reference}"
        assert "mode=payment" in call.request.body
        assert checkout.url == f"https://checkout.stripe.com/c/pay/{session_id}"
        assert checkout.payment.checkout_session_id == session_id

    @responses.activate
    def test_an_unreachable_stripe_is_a_502(self, settings):
        settings.STRIPE_SECRET_KEY = SECRET_KEY
        responses.add(
            responses.POST,
            "https://api.stripe.com/v1/checkout/sessions",
            body=requests.exceptions.ConnectionError("connection refused"),
        )
        with pytest.raises(PaymentProviderError):
            start(UserFactory(), CreditPackFactory())
        # The library retried the same request under the same idempotency key.
        keys = {call.request.headers["Idempotency-Key"] for call in responses.calls}
        assert len(responses.calls) == 3
        assert len(keys) == 1
        assert not Payment.objects.exists()


# --- Fulfilment -----------------------------------------------------------------------------


class TestFulfil:
    def test_grants_the_pack_once_under_the_sessions_key(self):
        payment = PaymentFactory(pack=CreditPackFactory(credits=500, price=900))

        first = checkouts.payment_fulfil(
            checkout_session_id=payment.checkout_session_id, payment_intent_id="pi_1", amount_paid=900
        )
        second = checkouts.payment_fulfil(checkout_session_id=payment.checkout_session_id)

        assert (first.granted_now, second.granted_now) == (True, False)
        [entry] = entries(payment.user, "purchase")
        assert entry.amount == 500
        assert entry.idempotency_key == f"checkout:{payment.checkout_session_id}"
        assert balance_get(user=payment.user) == 500
        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted, payment.payment_intent_id) == ("paid", 500, "pi_1")
        assert payment.paid_at is not None

    def test_records_what_stripe_says_was_paid(self):
        payment = PaymentFactory(pack=CreditPackFactory(price=900, currency="usd"))
        checkouts.payment_fulfil(
            checkout_session_id=payment.checkout_session_id, amount_paid=850, currency="USD"
        )
        payment.refresh_from_db()
        assert (payment.amount, payment.currency) == (850, "usd")

    def test_the_ledger_key_alone_prevents_a_second_grant(self):
        # If the payment row ever missed a grant made under the session's key,
        # the ledger's unique key still gives the first entry back.
        payment = PaymentFactory(pack=CreditPackFactory(credits=500))
        credits_grant(
            user=payment.user,
            amount=500,
            kind="purchase",
            idempotency_key=payment.grant_key,
            reason="earlier",
        )
        checkouts.payment_fulfil(checkout_session_id=payment.checkout_session_id)
        assert entries(payment.user, "purchase").count() == 1
        assert balance_get(user=payment.user) == 500

    def test_an_unknown_session_is_not_found(self):
        with pytest.raises(NotFoundError):
            checkouts.payment_fulfil(checkout_session_id="cs_test_unknown")

    def test_money_stripe_reports_paid_buys_the_credits_even_after_expiry(self):
        payment = PaymentFactory()
        checkouts.payment_close(checkout_session_id=payment.checkout_session_id, status="expired")
        checkouts.payment_fulfil(checkout_session_id=payment.checkout_session_id)
        payment.refresh_from_db()
        assert (payment.status, payment.closed_at) == ("paid", None)
        assert balance_get(user=payment.user) == payment.credits


class TestClose:
    @pytest.mark.parametrize("status", ["failed", "expired"])
    def test_closes_a_pending_payment(self, status):
        payment = PaymentFactory()
        checkouts.payment_close(checkout_session_id=payment.checkout_session_id, status=status)
        payment.refresh_from_db()
        assert payment.status == status
        assert payment.closed_at is not None

    def test_a_paid_payment_stays_paid(self):
        payment = paid_payment()
        checkouts.payment_close(checkout_session_id=payment.checkout_session_id, status="expired")
        payment.refresh_from_db()
        assert payment.status == "paid"
        assert balance_get(user=payment.user) == payment.credits

    def test_an_unknown_session_gives_none(self):
        assert checkouts.payment_close(checkout_session_id="cs_test_nope", status="failed") is None


# --- Sandbox -----------------------------------------------------------------------------------


class TestSandbox:
    def test_pay_grants_once_however_often_it_is_pressed(self):
        user = UserFactory()
        checkout = start(user, CreditPackFactory(credits=500))
        for _ in range(3):
            payment = checkouts.sandbox_checkout_complete(user=user, checkout_session_id=checkout.session_id)
        assert (payment.status, payment.credits_granted) == ("paid", 500)
        assert entries(user, "purchase").count() == 1
        assert balance_get(user=user) == 500

    def test_only_the_owner_can_pay(self):
        checkout = start(UserFactory(), CreditPackFactory())
        with pytest.raises(NotFoundError):
            checkouts.sandbox_checkout_complete(user=UserFactory(), checkout_session_id=checkout.session_id)
        assert Payment.objects.get().status == "pending"

    def test_a_stripe_session_cannot_be_paid_in_the_sandbox(self):
        payment = PaymentFactory()
        with pytest.raises(NotFoundError):
            checkouts.sandbox_checkout_complete(
                user=payment.user, checkout_session_id=payment.checkout_session_id
            )
        assert balance_get(user=payment.user) == 0

    def test_a_cancelled_checkout_cannot_be_paid(self):
        user = UserFactory()
        checkout = start(user, CreditPackFactory())
        checkouts.sandbox_checkout_cancel(user=user, checkout_session_id=checkout.session_id)
        with pytest.raises(ConflictError):
            checkouts.sandbox_checkout_complete(user=user, checkout_session_id=checkout.session_id)
        assert Payment.objects.get().status == "expired"
        assert balance_get(user=user) == 0

    def test_an_expired_checkout_cannot_be_paid_and_closes_as_expired(self):
        user = UserFactory()
        checkout = start(user, CreditPackFactory())
        Payment.objects.filter(pk=checkout.payment.pk).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )

        with pytest.raises(ConflictError) as refused:
            checkouts.sandbox_checkout_complete(user=user, checkout_session_id=checkout.session_id)

        assert refused.value.code == "checkout_expired"
        payment = Payment.objects.get()
        assert (payment.status, payment.credits_granted) == ("expired", 0)
        assert payment.closed_at is not None
        assert balance_get(user=user) == 0

    def test_the_sandbox_is_refused_once_stripe_is_configured(self, settings):
        user = UserFactory()
        checkout = start(user, CreditPackFactory())
        settings.STRIPE_SECRET_KEY = SECRET_KEY
        with pytest.raises(CheckoutUnavailable):
            checkouts.sandbox_checkout_complete(user=user, checkout_session_id=checkout.session_id)
        assert balance_get(user=user) == 0


# --- Refunds ---------------------------------------------------------------------------------


def refund(payment, amount_refunded, *, charge_id="ch_1", charge_amount=None):
    return payments.payment_refund_apply(
        payment=payment,
        charge_id=charge_id,
        charge_amount=charge_amount if charge_amount is not None else payment.amount,
        amount_refunded=amount_refunded,
    )


class TestRefunds:
    def test_a_partial_refund_takes_back_its_share_rounded_down(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))

        reversal = refund(payment, 300)

        # 500 * 300 / 900 = 166.67 -> 166
        assert (reversal.credits_asked, reversal.credits_taken, reversal.credits_shortfall) == (166, 166, 0)
        assert reversal.amount == 300
        assert balance_get(user=payment.user) == 334
        payment.refresh_from_db()
        assert (payment.status, payment.amount_refunded, payment.credits_reversed) == (
            "partially_refunded",
            300,
            166,
        )
        assert payment.charge_id == "ch_1"

    def test_a_later_refund_takes_the_rest_of_the_cumulative_share(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))
        refund(payment, 300)

        reversal = refund(payment, 900)

        assert (reversal.credits_asked, reversal.amount) == (334, 600)
        assert balance_get(user=payment.user) == 0
        payment.refresh_from_db()
        assert (payment.status, payment.amount_refunded, payment.credits_reversed) == ("refunded", 900, 500)

    def test_the_same_refund_twice_takes_back_once(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))
        first, again = refund(payment, 450), refund(payment, 450)
        assert first.pk == again.pk
        assert Reversal.objects.count() == 1
        assert entries(payment.user, "reversal").count() == 1
        assert balance_get(user=payment.user) == 250

    def test_an_older_refund_arriving_after_a_newer_one_takes_nothing_more(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))
        refund(payment, 600)
        assert refund(payment, 300) is None
        payment.refresh_from_db()
        assert (payment.amount_refunded, payment.credits_reversed) == (600, 333)
        assert balance_get(user=payment.user) == 167

    def test_credits_already_spent_are_a_shortfall_and_the_balance_stays_at_zero(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))
        spend(payment.user, 400)

        reversal = refund(payment, 900)

        assert (reversal.credits_asked, reversal.credits_taken, reversal.credits_shortfall) == (500, 100, 400)
        assert balance_get(user=payment.user) == 0
        payment.refresh_from_db()
        assert (payment.credits_reversed, payment.credits_shortfall, payment.status) == (100, 400, "refunded")
        [entry] = entries(payment.user, "reversal")
        assert entry.amount == -100

    def test_shortfalls_of_successive_refunds_add_up(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))
        spend(payment.user, 400)
        refund(payment, 450)  # asks 250, takes 100
        refund(payment, 900)  # asks 250, takes 0
        payment.refresh_from_db()
        assert (payment.credits_reversed, payment.credits_shortfall) == (100, 400)
        assert Reversal.objects.aggregate(s=Sum("credits_shortfall"))["s"] == 400
        assert balance_get(user=payment.user) == 0

    def test_a_refund_before_the_payment_is_fulfilled_is_not_ready(self):
        payment = PaymentFactory()
        with pytest.raises(EventNotReady):
            refund(payment, 900)
        assert not Reversal.objects.exists()


# --- Disputes ---------------------------------------------------------------------------------


def open_dispute(payment, dispute_id="dp_1"):
    return payments.payment_dispute_apply(payment=payment, dispute_id=dispute_id, amount=payment.amount)


class TestDisputes:
    def test_a_dispute_holds_the_payments_credits(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500))
        reversal = open_dispute(payment)
        assert (reversal.kind, reversal.credits_taken, reversal.credits_shortfall) == ("dispute", 500, 0)
        assert balance_get(user=payment.user) == 0
        payment.refresh_from_db()
        assert (payment.status, payment.dispute_status, payment.dispute_id) == ("disputed", "open", "dp_1")

    def test_a_dispute_after_a_partial_refund_holds_only_the_rest(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500, price=900))
        refund(payment, 450)
        reversal = open_dispute(payment)
        assert reversal.credits_asked == 250
        payment.refresh_from_db()
        assert payment.credits_reversed == 500
        assert balance_get(user=payment.user) == 0

    def test_spent_credits_are_a_shortfall_and_never_below_zero(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500))
        spend(payment.user, 350)
        reversal = open_dispute(payment)
        assert (reversal.credits_taken, reversal.credits_shortfall) == (150, 350)
        assert balance_get(user=payment.user) == 0
        payment.refresh_from_db()
        assert payment.credits_shortfall == 350

    def test_the_same_dispute_twice_holds_once(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500))
        credits_grant(user=payment.user, amount=100, idempotency_key="other-funds")
        open_dispute(payment)
        open_dispute(payment)
        assert entries(payment.user, "reversal").count() == 1
        assert balance_get(user=payment.user) == 100

    def test_a_won_dispute_gives_the_credits_back_once(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500))
        spend(payment.user, 100)
        open_dispute(payment)  # takes 400, 100 short
        for _ in range(2):
            payments.payment_dispute_close(payment=payment, dispute_id="dp_1", dispute_status="won")
        assert balance_get(user=payment.user) == 400
        payment.refresh_from_db()
        assert (payment.status, payment.dispute_status) == ("paid", "won")
        assert (payment.credits_reversed, payment.credits_shortfall) == (0, 0)
        reversal = Reversal.objects.get(kind="dispute")
        assert reversal.credits_returned == 400
        assert entries(payment.user, "grant").filter(idempotency_key="dispute:dp_1:won").count() == 1

    def test_a_lost_dispute_keeps_the_credits(self):
        payment = paid_payment(pack=CreditPackFactory(credits=500))
        open_dispute(payment)
        payments.payment_dispute_close(payment=payment, dispute_id="dp_1", dispute_status="lost")
        payment.refresh_from_db()
        assert (payment.status, payment.dispute_status, payment.credits_reversed) == ("disputed", "lost", 500)
        assert balance_get(user=payment.user) == 0

    def test_a_closing_before_its_opening_is_not_ready(self):
        payment = paid_payment()
        with pytest.raises(EventNotReady):
            payments.payment_dispute_close(payment=payment, dispute_id="dp_x", dispute_status="won")


def test_new_ids_look_like_stripes():
    assert new_id("pi").startswith("pi_")


# --- Abandoned checkouts expire ------------------------------------------------------------------


class TestExpirySweep:
    def test_closes_pending_payments_past_their_expiry_and_the_margin(self):
        now = timezone.now()
        abandoned = PaymentFactory(expires_at=now - dt.timedelta(minutes=16))
        within_margin = PaymentFactory(expires_at=now - dt.timedelta(minutes=14))
        still_open = PaymentFactory(expires_at=now + dt.timedelta(minutes=30))

        assert checkouts.payments_expire_abandoned(now=now) == 1

        abandoned.refresh_from_db()
        assert (abandoned.status, abandoned.is_abandoned) == ("expired", True)
        assert abandoned.closed_at is not None
        within_margin.refresh_from_db()
        still_open.refresh_from_db()
        assert (within_margin.status, still_open.status) == ("pending", "pending")
        assert within_margin.is_abandoned  # shown as abandoned already; the event or the sweep closes it
        assert not still_open.is_abandoned

    def test_closes_abandoned_sandbox_checkouts(self):
        user = UserFactory()
        checkout = start(user, CreditPackFactory())

        later = checkout.payment.expires_at + dt.timedelta(minutes=20)
        assert checkouts.payments_expire_abandoned(now=later) == 1

        assert Payment.objects.get().status == "expired"
        with pytest.raises(ConflictError):
            checkouts.sandbox_checkout_complete(user=user, checkout_session_id=checkout.session_id)

    def test_a_payment_from_before_expires_at_uses_stripes_24_hours(self):
        now = timezone.now()
        old = PaymentFactory(expires_at=None, created_at=now - dt.timedelta(hours=25))
        recent = PaymentFactory(expires_at=None, created_at=now - dt.timedelta(hours=23))

        assert checkouts.payments_expire_abandoned(now=now) == 1

        assert Payment.objects.get(pk=old.pk).status == "expired"
        assert Payment.objects.get(pk=recent.pk).status == "pending"

    def test_leaves_paid_closed_and_asynchronous_payments_alone(self):
        past = timezone.now() - dt.timedelta(days=2)
        paid = paid_payment(expires_at=past)
        failed = PaymentFactory(expires_at=past)
        checkouts.payment_close(checkout_session_id=failed.checkout_session_id, status="failed")
        # Checked out with a bank debit: Stripe confirms (or fails) it days later.
        awaiting = PaymentFactory(expires_at=past, payment_intent_id=new_id("pi"))

        assert checkouts.payments_expire_abandoned() == 0

        assert Payment.objects.get(pk=paid.pk).status == "paid"
        assert Payment.objects.get(pk=failed.pk).status == "failed"
        awaiting = Payment.objects.get(pk=awaiting.pk)
        assert (awaiting.status, awaiting.is_abandoned) == ("pending", False)

    def test_running_it_again_closes_nothing_more(self):
        PaymentFactory(expires_at=timezone.now() - dt.timedelta(hours=1))
        assert checkouts.payments_expire_abandoned() == 1
        assert checkouts.payments_expire_abandoned() == 0

    def test_a_swept_stripe_payment_later_paid_is_fulfilled_once(self):
        payment = PaymentFactory(expires_at=timezone.now() - dt.timedelta(hours=1))
        checkouts.payments_expire_abandoned()

        for _ in range(2):
            checkouts.payment_fulfil(
                checkout_session_id=payment.checkout_session_id, amount_paid=payment.amount
            )

        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted, payment.closed_at) == ("paid", payment.credits, None)
        assert not payment.is_abandoned
        assert entries(payment.user, "purchase").count() == 1
        assert balance_get(user=payment.user) == payment.credits
        assert checkouts.payments_expire_abandoned() == 0
        assert Payment.objects.get().status == "paid"

    def test_the_task_runs_the_sweep(self):
        from billing.tasks import checkouts_expire

        PaymentFactory(expires_at=timezone.now() - dt.timedelta(hours=1))
        assert checkouts_expire.apply().get() == 1
        assert Payment.objects.get().status == "expired"


def test_the_sweep_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["billing-checkouts-expire"]
    assert entry["task"] == "billing.checkouts_expire"
    assert entry["schedule"] == settings.BILLING_EXPIRY_SWEEP_INTERVAL


# --- Charges: Stripe's receipt -----------------------------------------------------------------


RECEIPT = "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xTTJKVGtMa2RJd0h1N2l4KOSN4aQGMgY"


class TestChargeRecord:
    def test_keeps_the_charge_and_stripes_receipt(self):
        payment = paid_payment()
        checkouts.payment_charge_record(payment=payment, charge_id="ch_1", receipt_url=RECEIPT)
        payment.refresh_from_db()
        assert (payment.charge_id, payment.receipt_url) == ("ch_1", RECEIPT)

    def test_a_newer_receipt_replaces_the_older_and_the_charge_stays(self):
        payment = paid_payment()
        checkouts.payment_charge_record(payment=payment, charge_id="ch_1", receipt_url=RECEIPT)
        checkouts.payment_charge_record(payment=payment, charge_id="ch_2", receipt_url=RECEIPT + "x")
        payment.refresh_from_db()
        assert (payment.charge_id, payment.receipt_url) == ("ch_1", RECEIPT + "x")

    @pytest.mark.parametrize(
        "url",
        [
            "",
            "http://pay.stripe.com/receipts/payment/x",  # not https
            "https://pay.stripe.com.evil.example/receipts/x",
            "https://user:pw@pay.stripe.com/receipts/x",
            "javascript:alert(1)//pay.stripe.com",
            "https://pay.stripe.com/" + "x" * 2000,
        ],
    )
    def test_anything_but_stripes_own_receipt_page_is_not_kept(self, url):
        payment = paid_payment()
        checkouts.payment_charge_record(payment=payment, charge_id="ch_1", receipt_url=url)
        payment.refresh_from_db()
        assert payment.receipt_url == ""
        assert payment.charge_id == "ch_1"
