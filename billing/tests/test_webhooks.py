"""Stripe's webhook: signatures, exactly-once fulfilment, ordering, refunds, disputes, failures."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
import stripe
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import UserFactory
from billing import checkout
from billing.models import Payment, Reversal, WebhookEvent
from billing.tests.factories import CreditPackFactory, PaymentFactory
from billing.tests.stripe_fakes import (
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    body_of,
    charge,
    checkout_session,
    dispute,
    event,
    new_id,
    post_event,
    sign,
)
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.services import credits_adjust

pytestmark = pytest.mark.django_db

RECEIPT = "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xTTJKVGtMa2RJd0h1N2l4KOSN4aQGMgY"


def completed(payment, *, payment_status="paid", event_type="checkout.session.completed", **kwargs):
    session = checkout_session(
        session_id=payment.checkout_session_id,
        user_id=payment.user_id,
        pack_id=payment.pack_id,
        payment_ref=str(payment.reference),
        amount_total=payment.amount,
        payment_status=payment_status,
        **kwargs,
    )
    return event(event_type, session)


def purchases(user):
    return LedgerEntry.objects.filter(account__user=user, kind="purchase")


@pytest.fixture
def payment():
    return PaymentFactory(pack=CreditPackFactory(credits=500, price=900))


# --- The fixtures are Stripe's own formats ---------------------------------------------------


def test_the_test_events_parse_into_the_stripe_librarys_own_classes(payment):
    session_event = stripe.Event.construct_from(completed(payment), "sk_test")
    assert isinstance(session_event.data.object, stripe.checkout.Session)
    intent = session_event.data.object.payment_intent
    assert isinstance(
        stripe.Event.construct_from(event("charge.refunded", charge(payment_intent=intent)), "k").data.object,
        stripe.Charge,
    )
    assert isinstance(
        stripe.Event.construct_from(
            event("charge.dispute.created", dispute(payment_intent=intent, charge_id="ch_1")), "k"
        ).data.object,
        stripe.Dispute,
    )


def test_the_signing_helper_matches_the_stripe_librarys_scheme():
    payload = b'{"id": "evt_1"}'
    header = sign(payload, secret="whsec_x", timestamp=1_700_000_000)
    expected = stripe.WebhookSignature._compute_signature(f"1700000000.{payload.decode()}", "whsec_x")
    assert header == f"t=1700000000,v1={expected}"


# --- Checkout events --------------------------------------------------------------------------


class TestCheckoutCompleted:
    def test_a_paid_session_grants_the_pack_and_records_the_event(self, client, payment):
        delivered = completed(payment)

        response = post_event(client, delivered)

        assert response.status_code == 200
        assert response.json() == {"id": delivered["id"], "status": "processed"}
        assert balance_get(user=payment.user) == 500
        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted) == ("paid", 500)
        assert payment.payment_intent_id == delivered["data"]["object"]["payment_intent"]
        stored = WebhookEvent.objects.get()
        assert (stored.stripe_id, stored.type, stored.status) == (
            delivered["id"],
            "checkout.session.completed",
            "processed",
        )
        assert stored.payload == delivered
        assert stored.object_id == payment.checkout_session_id
        assert (stored.attempts, stored.deliveries, stored.error) == (1, 1, "")
        assert stored.processed_at is not None

    def test_a_redelivery_grants_nothing_more(self, client, payment):
        delivered = completed(payment)
        for _ in range(3):
            assert post_event(client, delivered).status_code == 200
        assert purchases(payment.user).count() == 1
        assert balance_get(user=payment.user) == 500
        stored = WebhookEvent.objects.get()
        assert (stored.deliveries, stored.attempts, stored.status) == (3, 1, "processed")

    def test_a_second_event_for_the_same_session_grants_nothing_more(self, client, payment):
        assert post_event(client, completed(payment)).status_code == 200
        again = completed(payment, event_type="checkout.session.async_payment_succeeded")
        response = post_event(client, again)
        assert response.status_code == 200
        assert purchases(payment.user).count() == 1
        assert balance_get(user=payment.user) == 500
        assert (
            WebhookEvent.objects.get(stripe_id=again["id"]).note
            == "Already fulfilled: nothing granted again."
        )

    def test_an_asynchronous_payment_is_granted_when_it_succeeds(self, client, payment):
        pending = completed(payment, payment_status="unpaid")
        assert post_event(client, pending).status_code == 200
        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted) == ("pending", 0)
        assert payment.payment_intent_id == pending["data"]["object"]["payment_intent"]
        assert balance_get(user=payment.user) == 0

        succeeded = completed(
            payment,
            event_type="checkout.session.async_payment_succeeded",
            payment_intent=payment.payment_intent_id,
        )
        assert post_event(client, succeeded).status_code == 200
        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted) == ("paid", 500)
        assert balance_get(user=payment.user) == 500

    def test_events_in_reverse_order_still_grant_once(self, client, payment):
        succeeded = completed(payment, event_type="checkout.session.async_payment_succeeded")
        pending = completed(payment, payment_status="unpaid")
        assert post_event(client, succeeded).status_code == 200
        assert post_event(client, pending).status_code == 200
        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted) == ("paid", 500)
        assert purchases(payment.user).count() == 1

    @pytest.mark.parametrize(
        ("event_type", "status"),
        [("checkout.session.async_payment_failed", "failed"), ("checkout.session.expired", "expired")],
    )
    def test_a_failed_or_expired_session_closes_the_payment(self, client, payment, event_type, status):
        closing = completed(payment, event_type=event_type, payment_status="unpaid", status="expired")
        assert post_event(client, closing).status_code == 200
        payment.refresh_from_db()
        assert payment.status == status
        assert balance_get(user=payment.user) == 0

    def test_an_expiry_after_payment_leaves_it_paid(self, client, payment):
        post_event(client, completed(payment))
        post_event(client, completed(payment, event_type="checkout.session.expired", payment_status="unpaid"))
        payment.refresh_from_db()
        assert payment.status == "paid"
        assert balance_get(user=payment.user) == 500

    def test_an_expired_session_is_abandoned_and_a_late_completion_still_grants_once(self, client, payment):
        expired = completed(payment, event_type="checkout.session.expired", payment_status="unpaid")
        expired["data"]["object"].update(status="expired", payment_intent=None, url=None)
        assert post_event(client, expired).status_code == 200
        payment.refresh_from_db()
        assert (payment.status, payment.is_abandoned) == ("expired", True)
        assert WebhookEvent.objects.get().note == "Payment closed as expired."

        # The buyer paid at the last second and Stripe's completion comes after the expiry:
        # the money buys the credits, once however often it is delivered.
        late = completed(payment)
        for _ in range(2):
            assert post_event(client, late).status_code == 200
        succeeded = completed(payment, event_type="checkout.session.async_payment_succeeded")
        assert post_event(client, succeeded).status_code == 200
        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted, payment.closed_at) == ("paid", 500, None)
        assert purchases(payment.user).count() == 1
        assert balance_get(user=payment.user) == 500
        # A redelivered expiry leaves it paid.
        assert post_event(client, expired).status_code == 200
        payment.refresh_from_db()
        assert payment.status == "paid"

    def test_a_payment_the_sweep_expired_is_still_granted_by_a_late_completion(self, client, payment):
        Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - dt.timedelta(hours=1))
        assert checkout.payments_expire_abandoned() == 1

        assert post_event(client, completed(payment)).status_code == 200
        assert post_event(client, completed(payment)).status_code == 200

        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted) == ("paid", 500)
        assert purchases(payment.user).count() == 1
        assert balance_get(user=payment.user) == 500

    def test_a_session_of_another_integration_is_ignored(self, client):
        foreign = checkout_session(session_id="cs_test_foreign", user_id=1, pack_id=1)
        foreign["metadata"] = {}
        foreign["client_reference_id"] = None
        response = post_event(client, event("checkout.session.completed", foreign))
        assert response.status_code == 200
        assert response.json()["status"] == "ignored"
        assert not Payment.objects.exists()

    def test_a_paid_session_whose_payment_row_was_lost_is_recreated_from_its_metadata(self, client):
        user, pack = UserFactory(), CreditPackFactory(credits=500, price=900)
        session = checkout_session(
            session_id="cs_test_lost",
            user_id=user.pk,
            pack_id=pack.pk,
            payment_ref=str(uuid.uuid4()),
        )
        assert post_event(client, event("checkout.session.completed", session)).status_code == 200
        payment = Payment.objects.get(checkout_session_id="cs_test_lost")
        assert (payment.user, payment.pack, payment.status, payment.credits_granted) == (
            user,
            pack,
            "paid",
            500,
        )
        assert balance_get(user=user) == 500

    def test_a_session_naming_another_user_fails_and_grants_nothing(self, client, payment):
        tampered = completed(payment)
        tampered["data"]["object"]["client_reference_id"] = str(UserFactory().pk)
        response = post_event(client, tampered)
        assert response.status_code == 500
        assert WebhookEvent.objects.get().status == "failed"
        assert balance_get(user=payment.user) == 0


def test_unknown_event_types_are_acknowledged_and_ignored(client):
    delivered = event("customer.created", {"id": "cus_1", "object": "customer", "email": "a@example.com"})
    response = post_event(client, delivered)
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.note) == ("ignored", "Event type customer.created is not handled.")


# --- Refused deliveries ---------------------------------------------------------------------------


def _refused(response, code):
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not WebhookEvent.objects.exists()
    assert not LedgerEntry.objects.filter(kind="purchase").exists()


class TestRefused:
    def test_a_forged_signature(self, client, payment):
        _refused(
            post_event(client, completed(payment), secret="whsec_not_the_endpoints"), "invalid_signature"
        )

    def test_a_stale_signature(self, client, payment):
        stale = int(time.time()) - 301
        _refused(post_event(client, completed(payment), timestamp=stale), "invalid_signature")

    def test_a_recent_signature_within_the_tolerance_is_accepted(self, client, payment):
        assert post_event(client, completed(payment), timestamp=int(time.time()) - 280).status_code == 200

    @staticmethod
    def _post_signed_at(client, payload: bytes, timestamp: int):
        # Signed by the stripe library itself, so the signature is genuine and only its time is wrong.
        header = stripe.WebhookSignature.generate_signature_header(
            payload.decode(), WEBHOOK_SECRET, timestamp=timestamp
        )
        return client.post(
            WEBHOOK_PATH, data=payload, content_type="application/json", headers={"Stripe-Signature": header}
        )

    @pytest.mark.parametrize("ahead", [365 * 86400, 301 + 30])
    def test_a_signature_dated_in_the_future_beyond_the_tolerance(self, client, payment, ahead):
        response = self._post_signed_at(client, body_of(completed(payment)), int(time.time()) + ahead)

        _refused(response, "invalid_signature")
        assert Payment.objects.get().credits_granted == 0

    def test_a_signature_a_few_seconds_ahead_is_clock_skew_and_accepted(self, client, payment):
        response = self._post_signed_at(client, body_of(completed(payment)), int(time.time()) + 5)

        assert response.status_code == 200, response.content
        assert WebhookEvent.objects.get().status == "processed"
        assert balance_get(user=payment.user) == 500

    def test_the_timestamp_checked_is_the_one_the_library_verified(self, client, payment):
        # The library verifies the header's first t=; a later one must not pass for it.
        payload = body_of(completed(payment))
        future = stripe.WebhookSignature.generate_signature_header(
            payload.decode(), WEBHOOK_SECRET, timestamp=int(time.time()) + 365 * 86400
        )
        response = client.post(
            WEBHOOK_PATH,
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": f"{future},t={int(time.time())}"},
        )

        _refused(response, "invalid_signature")

    def test_a_missing_signature(self, client, payment):
        response = client.post(
            WEBHOOK_PATH, data=body_of(completed(payment)), content_type="application/json"
        )
        _refused(response, "invalid_signature")

    @pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "t=1700000000", "v1=deadbeef", ""])
    def test_a_malformed_signature_header(self, client, payment, header):
        response = client.post(
            WEBHOOK_PATH,
            data=body_of(completed(payment)),
            content_type="application/json",
            headers={"Stripe-Signature": header},
        )
        _refused(response, "invalid_signature")

    def test_a_body_changed_after_signing(self, client, payment):
        genuine = body_of(completed(payment))
        tampered = genuine.replace(b'"amount_total": 900', b'"amount_total": 1')
        assert tampered != genuine
        response = client.post(
            WEBHOOK_PATH,
            data=tampered,
            content_type="application/json",
            headers={"Stripe-Signature": sign(genuine)},
        )
        _refused(response, "invalid_signature")

    @pytest.mark.parametrize(
        "payload",
        [
            b"{not json",
            b"\xff\xfe\x00 not utf-8",
            b"[]",
            b'{"object": "event", "type": "checkout.session.completed"}',
            b'{"id": "evt_1", "object": "event", "type": "checkout.session.completed", "data": {}}',
            b'{"id": "evt_1", "object": "balance", "type": "x", "data": {"object": {}}}',
            b'{"id": "evt_1", "object": "v2.core.event", "type": "x"}',
        ],
    )
    def test_a_signed_body_that_is_not_a_stripe_event(self, client, payload):
        response = client.post(
            WEBHOOK_PATH,
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": sign(payload)},
        )
        _refused(response, "invalid_payload")

    def test_without_a_configured_secret_nothing_is_accepted(self, client, payment, settings):
        settings.STRIPE_WEBHOOK_SECRET = ""
        response = post_event(client, completed(payment))
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "webhook_not_configured"
        assert not WebhookEvent.objects.exists()

    def test_only_post_is_allowed(self, client):
        assert client.get(WEBHOOK_PATH).status_code == 405


def test_no_csrf_token_or_login_is_needed(payment):
    csrf_client = Client(enforce_csrf_checks=True)
    assert post_event(csrf_client, completed(payment)).status_code == 200
    assert balance_get(user=payment.user) == 500


# --- Failures keep their record -------------------------------------------------------------------


class TestFailures:
    def test_a_failure_is_recorded_answers_500_and_a_redelivery_finishes_it(
        self, client, payment, monkeypatch
    ):
        delivered = completed(payment)

        def broken_grant(**kwargs):
            raise RuntimeError("ledger unavailable")

        monkeypatch.setattr(checkout, "credits_grant", broken_grant)
        response = post_event(client, delivered)

        assert response.status_code == 500
        assert response.json()["error"]["code"] == "webhook_processing_failed"
        stored = WebhookEvent.objects.get()
        assert stored.status == "failed"
        assert "RuntimeError: ledger unavailable" in stored.error
        assert stored.attempts == 1
        payment.refresh_from_db()
        assert (payment.status, payment.credits_granted) == ("pending", 0)
        assert balance_get(user=payment.user) == 0

        monkeypatch.undo()
        assert post_event(client, delivered).status_code == 200
        stored.refresh_from_db()
        assert (stored.status, stored.error, stored.attempts, stored.deliveries) == ("processed", "", 2, 2)
        assert balance_get(user=payment.user) == 500

    @pytest.mark.django_db(transaction=True)
    def test_the_failure_record_survives_even_with_request_wide_transactions(self, client, monkeypatch):
        payment = PaymentFactory(pack=CreditPackFactory(credits=500))
        monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)

        def broken_grant(**kwargs):
            raise RuntimeError("ledger unavailable")

        monkeypatch.setattr(checkout, "credits_grant", broken_grant)
        response = post_event(client, completed(payment))

        assert response.status_code == 500
        stored = WebhookEvent.objects.get()
        assert stored.status == "failed"
        assert "ledger unavailable" in stored.error


# --- Refunds and disputes through the webhook ---------------------------------------------------


class TestRefundsAndDisputes:
    def paid(self, client, payment):
        assert post_event(client, completed(payment)).status_code == 200
        payment.refresh_from_db()
        return payment

    def test_a_partial_then_a_full_refund(self, client, payment):
        payment = self.paid(client, payment)
        refunded = charge(payment_intent=payment.payment_intent_id, amount=900, amount_refunded=450)
        assert post_event(client, event("charge.refunded", refunded)).status_code == 200
        assert balance_get(user=payment.user) == 250

        refunded_fully = {**refunded, "amount_refunded": 900, "refunded": True}
        assert post_event(client, event("charge.refunded", refunded_fully)).status_code == 200
        assert balance_get(user=payment.user) == 0
        payment.refresh_from_db()
        assert (payment.status, payment.amount_refunded, payment.credits_reversed) == ("refunded", 900, 500)
        assert payment.charge_id == refunded["id"]

    def test_a_redelivered_refund_takes_back_once(self, client, payment):
        payment = self.paid(client, payment)
        delivered = event(
            "charge.refunded", charge(payment_intent=payment.payment_intent_id, amount_refunded=900)
        )
        post_event(client, delivered)
        post_event(client, delivered)
        assert LedgerEntry.objects.filter(kind="reversal").count() == 1
        assert balance_get(user=payment.user) == 0

    def test_a_refund_of_spent_credits_records_the_shortfall(self, client, payment):
        payment = self.paid(client, payment)
        credits_adjust(user=payment.user, amount=-450, reason="spent", actor=None)
        response = post_event(
            client,
            event("charge.refunded", charge(payment_intent=payment.payment_intent_id, amount_refunded=900)),
        )
        assert response.status_code == 200
        assert balance_get(user=payment.user) == 0
        payment.refresh_from_db()
        assert (payment.credits_reversed, payment.credits_shortfall) == (50, 450)
        note = WebhookEvent.objects.get(type="charge.refunded").note
        assert note == "Refund: 50 credits taken back, 450 already spent (shortfall)."

    def test_a_refund_found_through_the_payment_reference_in_the_charges_metadata(self, client, payment):
        payment = self.paid(client, payment)
        refunded = charge(
            payment_intent=new_id("pi"), amount_refunded=900, metadata={"payment_ref": str(payment.reference)}
        )
        assert post_event(client, event("charge.refunded", refunded)).status_code == 200
        assert balance_get(user=payment.user) == 0

    def test_a_refund_arriving_before_its_payment_fails_then_succeeds_on_redelivery(self, client, payment):
        intent = new_id("pi")
        refund_event = event("charge.refunded", charge(payment_intent=intent, amount_refunded=900))

        early = post_event(client, refund_event)
        assert early.status_code == 500
        stored = WebhookEvent.objects.get(type="charge.refunded")
        assert stored.status == "failed"
        assert "No payment for PaymentIntent" in stored.error

        assert post_event(client, completed(payment, payment_intent=intent)).status_code == 200
        assert balance_get(user=payment.user) == 500
        assert post_event(client, refund_event).status_code == 200
        assert balance_get(user=payment.user) == 0
        stored.refresh_from_db()
        assert (stored.status, stored.attempts) == ("processed", 2)

    def test_a_succeeded_charge_brings_stripes_receipt(self, client, payment):
        payment = self.paid(client, payment)
        succeeded = charge(payment_intent=payment.payment_intent_id, receipt_url=RECEIPT)

        assert post_event(client, event("charge.succeeded", succeeded)).status_code == 200

        payment.refresh_from_db()
        assert (payment.receipt_url, payment.charge_id) == (RECEIPT, succeeded["id"])
        assert WebhookEvent.objects.get(type="charge.succeeded").note == "Charge recorded."
        assert balance_get(user=payment.user) == 500  # the credits come with the session, once

    def test_a_charge_before_its_session_completes_is_found_by_the_payment_reference(self, client, payment):
        succeeded = charge(
            payment_intent=new_id("pi"), metadata={"payment_ref": str(payment.reference)}, receipt_url=RECEIPT
        )
        assert post_event(client, event("charge.succeeded", succeeded)).status_code == 200
        payment.refresh_from_db()
        assert (payment.status, payment.receipt_url) == ("pending", RECEIPT)
        assert balance_get(user=payment.user) == 0

    def test_a_charge_of_another_integration_is_ignored(self, client):
        response = post_event(client, event("charge.succeeded", charge(payment_intent=new_id("pi"))))
        assert response.json()["status"] == "ignored"

    def test_a_refunded_charge_updates_the_receipt(self, client, payment):
        payment = self.paid(client, payment)
        refunded = charge(payment_intent=payment.payment_intent_id, amount_refunded=450, receipt_url=RECEIPT)
        assert post_event(client, event("charge.refunded", refunded)).status_code == 200
        payment.refresh_from_db()
        assert (payment.receipt_url, payment.status) == (RECEIPT, "partially_refunded")

    def test_a_receipt_url_not_on_stripes_receipt_host_is_not_kept(self, client, payment):
        payment = self.paid(client, payment)
        succeeded = charge(
            payment_intent=payment.payment_intent_id, receipt_url="https://evil.example/receipt"
        )
        assert post_event(client, event("charge.succeeded", succeeded)).status_code == 200
        payment.refresh_from_db()
        assert payment.receipt_url == ""

    def test_a_dispute_holds_the_credits_and_winning_it_gives_them_back(self, client, payment):
        payment = self.paid(client, payment)
        charge_id = new_id("ch")
        opened = dispute(payment_intent=payment.payment_intent_id, charge_id=charge_id)
        assert post_event(client, event("charge.dispute.created", opened)).status_code == 200
        assert balance_get(user=payment.user) == 0
        payment.refresh_from_db()
        assert (payment.status, payment.dispute_status, payment.charge_id) == ("disputed", "open", charge_id)

        won = {**opened, "status": "won"}
        for _ in range(2):
            assert post_event(client, event("charge.dispute.closed", won)).status_code == 200
        assert balance_get(user=payment.user) == 500
        payment.refresh_from_db()
        assert (payment.status, payment.dispute_status) == ("paid", "won")

    def test_a_lost_dispute_keeps_the_credits_held(self, client, payment):
        payment = self.paid(client, payment)
        opened = dispute(payment_intent=payment.payment_intent_id, charge_id=new_id("ch"))
        post_event(client, event("charge.dispute.created", opened))
        post_event(client, event("charge.dispute.closed", {**opened, "status": "lost"}))
        payment.refresh_from_db()
        assert (payment.status, payment.dispute_status) == ("disputed", "lost")
        assert balance_get(user=payment.user) == 0
        assert Reversal.objects.get().credits_returned == 0

    def test_a_dispute_with_spent_credits_records_the_shortfall(self, client, payment):
        payment = self.paid(client, payment)
        credits_adjust(user=payment.user, amount=-500, reason="spent", actor=None)
        opened = dispute(payment_intent=payment.payment_intent_id, charge_id=new_id("ch"))
        assert post_event(client, event("charge.dispute.created", opened)).status_code == 200
        payment.refresh_from_db()
        assert (payment.credits_reversed, payment.credits_shortfall) == (0, 500)
        assert balance_get(user=payment.user) == 0


def test_the_stored_payload_is_the_delivered_json(client, payment):
    delivered = completed(payment)
    post_event(client, delivered)
    assert WebhookEvent.objects.get().payload == json.loads(body_of(delivered))
