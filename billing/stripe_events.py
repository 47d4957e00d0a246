"""Stripe's webhook events: verified, stored once, applied at most once.

``webhook_event_record`` verifies a delivery's signature with the ``stripe``
library and stores its event once by Stripe's id; ``webhook_event_process``
applies it in its own durable transaction under the event row's lock (first in
the lock order event -> payment -> credit account), keeping a status and the
error of a failure. Each handled type maps to a use case of
billing/checkout.py (fulfilment, closing) or billing/payments.py (refunds,
disputes).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import stripe
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing import selectors
from billing.checkout import payment_awaiting_record, payment_charge_record, payment_close, payment_fulfil
from billing.conf import WEBHOOK_TOLERANCE_SECONDS, stripe_config
from billing.errors import EventNotReady, InvalidWebhook, WebhookNotConfigured, WebhookProcessingFailed
from billing.models import CreditPack, Payment, WebhookEvent
from billing.payments import payment_dispute_apply, payment_dispute_close, payment_refund_apply
from core.errors import ConflictError
from monitoring.metrics import record_webhook_event

logger = logging.getLogger(__name__)

PAID_SESSION_STATUSES = ("paid", "no_payment_required")
ERROR_TEXT_LIMIT = 10_000
DONE_STATUSES = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)


def webhook_event_record(*, payload: bytes, signature: str | None) -> WebhookEvent:
    """Verify a delivery with Stripe's signature scheme and store its event
    once. A missing or wrong signature, one older than the tolerance or dated
    more than the tolerance ahead, or a body that is not an event, raises
    ``InvalidWebhook`` and stores nothing. A redelivery, even one racing the
    first delivery, returns the row the first one stored."""
    config = stripe_config()
    if not config.webhook_secret:
        raise WebhookNotConfigured()
    try:
        # The library's own check (HMAC-SHA256 of "<t>.<body>", constant-time
        # compare, tolerance); the body is parsed only once it is authentic.
        stripe.WebhookSignature.verify_header(
            payload, signature, config.webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
        _refuse_a_future_signature(str(signature))
        data = _event_data(payload)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook(
            "The Stripe-Signature header is missing, wrong, too old or dated in the future.",
            code="invalid_signature",
        ) from exc
    except ValueError as exc:  # not UTF-8 or not JSON
        raise InvalidWebhook("The body is not a Stripe event.", code="invalid_payload") from exc

    now = timezone.now()
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                stripe_id=data["id"],
                type=data["type"],
                object_id=str(data["data"]["object"].get("id") or "")[:255],
                livemode=bool(data.get("livemode")),
                api_version=str(data.get("api_version") or "")[:50],
                payload=data,
                stripe_created_at=_timestamp(data.get("created")),
                received_at=now,
                last_delivered_at=now,
            )
    except IntegrityError:
        # Delivered before, or by a request racing this one: the unique id let
        # one INSERT through, and its row is the event.
        WebhookEvent.objects.filter(stripe_id=data["id"]).update(
            deliveries=F("deliveries") + 1, last_delivered_at=now
        )
        return WebhookEvent.objects.get(stripe_id=data["id"])


def _refuse_a_future_signature(header: str) -> None:
    """The library refuses a signature older than the tolerance but not one dated
    ahead (stripe 16.x): a delivery signed a year ahead would stay valid for a year,
    so anyone who captured it could replay it until then. Its timestamp is the one
    the library just verified: the header's first ``t=`` item, read as it reads it."""
    items = [item.split("=", 2) for item in header.split(",")]
    timestamp = int(next(item[1] for item in items if item[0] == "t"))
    if timestamp > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise stripe.SignatureVerificationError(
            f"Timestamp ahead of the tolerance zone ({timestamp})", header
        )


def webhook_event_process(*, event: WebhookEvent) -> WebhookEvent:
    """Apply a stored event, at most once, in its own transaction.

    The event row is locked first, so a concurrent delivery of the same event
    waits and then finds it done. On failure the transaction rolls back
    (nothing half-applied), the row is marked failed with the error, and
    ``WebhookProcessingFailed`` tells Stripe to deliver it again."""
    try:
        # Durable: never part of a request-wide transaction that could roll
        # back the record of a failure.
        with transaction.atomic(durable=True):
            locked = WebhookEvent.objects.select_for_update().get(pk=event.pk)
            if locked.is_done:
                record_webhook_event(type=locked.type, result="duplicate")
                return locked
            handler = _HANDLERS.get(locked.type)
            status: str
            if handler is None:
                status, note = WebhookEvent.Status.IGNORED, f"Event type {locked.type} is not handled."
            else:
                status, note = handler(locked.payload["data"]["object"], locked)
            WebhookEvent.objects.filter(pk=locked.pk).update(
                status=status,
                note=note[:255],
                error="",
                attempts=F("attempts") + 1,
                processed_at=timezone.now(),
            )
        record_webhook_event(type=locked.type, result=status)
    except Exception as exc:
        if isinstance(exc, EventNotReady):
            logger.warning("Stripe event %s (%s) not processed yet: %s", event.stripe_id, event.type, exc)
        else:
            logger.exception("Stripe event %s (%s) failed", event.stripe_id, event.type)
        # Unless a concurrent delivery processed it since this one rolled back.
        WebhookEvent.objects.filter(pk=event.pk).exclude(status__in=DONE_STATUSES).update(
            status=WebhookEvent.Status.FAILED,
            error=_error_text(exc),
            attempts=F("attempts") + 1,
        )
        event.refresh_from_db()
        record_webhook_event(type=event.type, result="failed")
        raise WebhookProcessingFailed(extra={"event": event.stripe_id, "error": str(exc)[:500]}) from exc
    locked.refresh_from_db()
    return locked


def webhook_event_reprocess(*, event: WebhookEvent) -> WebhookEvent:
    """An operator's retry of an event that failed (or never finished)."""
    if event.is_done:
        raise ConflictError(f"Event {event.stripe_id} is already {event.status}.", code="event_done")
    return webhook_event_process(event=event)


def _event_data(payload: bytes) -> dict[str, Any]:
    data = json.loads(payload)
    valid = (
        isinstance(data, dict)
        and data.get("object") == "event"
        and isinstance(data.get("id"), str)
        and data["id"]
        and isinstance(data.get("type"), str)
        and data["type"]
        and isinstance(data.get("data"), dict)
        and isinstance(data["data"].get("object"), dict)
    )
    if not valid:
        raise InvalidWebhook("The body is not a Stripe event.", code="invalid_payload")
    if len(data["id"]) > 255 or len(data["type"]) > 100:
        raise InvalidWebhook("The event's id or type is too long.", code="invalid_payload")
    return data


def _timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return None


def _error_text(exc: Exception) -> str:
    if isinstance(exc, EventNotReady):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
    return text[:ERROR_TEXT_LIMIT]


# --- Event handlers: (event's object, event) -> (status, note) ----------------------------

Outcome = tuple[str, str]
PROCESSED = WebhookEvent.Status.PROCESSED
IGNORED = WebhookEvent.Status.IGNORED


def _on_session_paid_or_completed(session: dict[str, Any], event: WebhookEvent) -> Outcome:
    payment = _payment_for_session(session)
    if payment is None:
        return IGNORED, "Not a checkout of this platform."
    payment_intent_id = _id(session.get("payment_intent"))
    if session.get("payment_status") not in PAID_SESSION_STATUSES:
        # An asynchronous payment method: async_payment_succeeded or _failed follows.
        payment_awaiting_record(checkout_session_id=session["id"], payment_intent_id=payment_intent_id)
        return PROCESSED, f"Payment {payment.reference} awaits an asynchronous payment."
    amount_total = session.get("amount_total")
    fulfilment = payment_fulfil(
        checkout_session_id=session["id"],
        payment_intent_id=payment_intent_id,
        amount_paid=amount_total if isinstance(amount_total, int) else None,
        currency=session.get("currency") or None,
    )
    if fulfilment.granted_now:
        return PROCESSED, f"Paid: {fulfilment.payment.credits_granted:,} credits granted."
    return PROCESSED, "Already fulfilled: nothing granted again."


def _on_session_closed(status: str) -> Callable[[dict[str, Any], WebhookEvent], Outcome]:
    def handle(session: dict[str, Any], event: WebhookEvent) -> Outcome:
        payment = payment_close(checkout_session_id=session["id"], status=status)
        if payment is None:
            return IGNORED, "Not a checkout of this platform."
        if payment.status != status:
            return PROCESSED, f"Payment is {payment.status}: left as it is."
        return PROCESSED, f"Payment closed as {status}."

    return handle


def _on_charge_succeeded(charge: dict[str, Any], event: WebhookEvent) -> Outcome:
    """Only for the receipt: the credits come with the Checkout Session's own events."""
    payment = selectors.payment_for_charge(
        payment_intent_id=_id(charge.get("payment_intent")),
        charge_id=charge["id"],
        payment_ref=_payment_ref(charge.get("metadata")),
    )
    if payment is None:
        return IGNORED, "Not a charge of a payment of this platform."
    payment_charge_record(payment=payment, charge_id=charge["id"], receipt_url=_receipt_url(charge))
    return PROCESSED, "Charge recorded."


def _on_charge_refunded(charge: dict[str, Any], event: WebhookEvent) -> Outcome:
    payment = _payment_for_charge(
        payment_intent_id=_id(charge.get("payment_intent")),
        charge_id=charge["id"],
        metadata=charge.get("metadata"),
    )
    # The refunded charge's receipt (Stripe updates it with the refund).
    payment_charge_record(payment=payment, charge_id=charge["id"], receipt_url=_receipt_url(charge))
    reversal = payment_refund_apply(
        payment=payment,
        charge_id=charge["id"],
        charge_amount=int(charge["amount"]),
        amount_refunded=int(charge["amount_refunded"]),
        occurred_at=event.stripe_created_at,
    )
    if reversal is None:
        return PROCESSED, "Refund already accounted for."
    note = f"Refund: {reversal.credits_taken:,} credits taken back"
    if reversal.credits_shortfall:
        note += f", {reversal.credits_shortfall:,} already spent (shortfall)"
    return PROCESSED, note + "."


def _on_dispute_created(dispute: dict[str, Any], event: WebhookEvent) -> Outcome:
    charge_id = _id(dispute.get("charge"))
    payment = _payment_for_charge(payment_intent_id=_id(dispute.get("payment_intent")), charge_id=charge_id)
    reversal = payment_dispute_apply(
        payment=payment,
        dispute_id=dispute["id"],
        amount=int(dispute.get("amount") or 0),
        charge_id=charge_id,
        occurred_at=event.stripe_created_at,
    )
    note = f"Dispute: {reversal.credits_taken:,} credits held"
    if reversal.credits_shortfall:
        note += f", {reversal.credits_shortfall:,} already spent (shortfall)"
    return PROCESSED, note + "."


def _on_dispute_closed(dispute: dict[str, Any], event: WebhookEvent) -> Outcome:
    payment = _payment_for_charge(
        payment_intent_id=_id(dispute.get("payment_intent")), charge_id=_id(dispute.get("charge"))
    )
    status = str(dispute.get("status") or "")
    payment = payment_dispute_close(payment=payment, dispute_id=dispute["id"], dispute_status=status)
    return PROCESSED, f"Dispute closed ({status}): payment is {payment.status}."


_HANDLERS: dict[str, Callable[[dict[str, Any], WebhookEvent], Outcome]] = {
    "checkout.session.completed": _on_session_paid_or_completed,
    "checkout.session.async_payment_succeeded": _on_session_paid_or_completed,
    "checkout.session.async_payment_failed": _on_session_closed(Payment.Status.FAILED),
    "checkout.session.expired": _on_session_closed(Payment.Status.EXPIRED),
    "charge.succeeded": _on_charge_succeeded,
    "charge.refunded": _on_charge_refunded,
    "charge.dispute.created": _on_dispute_created,
    "charge.dispute.closed": _on_dispute_closed,
}
HANDLED_EVENT_TYPES = tuple(_HANDLERS)


def _payment_for_session(session: dict[str, Any]) -> Payment | None:
    """The session's payment; recreated from the session's metadata when the
    checkout was started but its row never stored (the process died between
    Stripe's answer and the INSERT), so a paid session is never left ungranted."""
    payment = selectors.payment_for_session(checkout_session_id=session["id"])
    metadata = session.get("metadata") or {}
    if payment is not None:
        owner = session.get("client_reference_id") or metadata.get("user_id")
        if owner and str(owner) != str(payment.user_id):
            raise ValueError(
                f"Checkout Session {session['id']} names user {owner}, "
                f"but its payment belongs to user {payment.user_id}."
            )
        return payment
    return _payment_from_metadata(session, metadata)


def _payment_from_metadata(session: dict[str, Any], metadata: dict[str, Any]) -> Payment | None:
    from accounts.models import User

    try:
        reference = uuid.UUID(str(metadata.get("payment_ref")))
        user = User.objects.get(pk=int(metadata["user_id"]))
        pack = CreditPack.objects.get(pk=int(metadata["pack_id"]))
    except (KeyError, ValueError, TypeError, User.DoesNotExist, CreditPack.DoesNotExist):
        return None
    amount_total = session.get("amount_total")
    with transaction.atomic():
        payment, created = Payment.objects.get_or_create(
            checkout_session_id=session["id"],
            defaults={
                "reference": reference,
                "user": user,
                "pack": pack,
                "provider": Payment.Provider.STRIPE,
                "checkout_url": str(session.get("url") or "")[:2000],
                "credits": pack.credits,
                "amount": amount_total if isinstance(amount_total, int) else pack.price,
                "currency": str(session.get("currency") or pack.currency).lower(),
                "expires_at": _timestamp(session.get("expires_at")),
            },
        )
    if created:
        logger.warning("Payment for Checkout Session %s recreated from its metadata", session["id"])
    return payment


def _payment_for_charge(*, payment_intent_id: str, charge_id: str, metadata: Any = None) -> Payment:
    payment = selectors.payment_for_charge(
        payment_intent_id=payment_intent_id, charge_id=charge_id, payment_ref=_payment_ref(metadata)
    )
    if payment is None:
        # Most likely its checkout.session.completed has not arrived yet.
        raise EventNotReady(
            f"No payment for PaymentIntent {payment_intent_id or '-'} / charge {charge_id or '-'} yet."
        )
    return payment


def _payment_ref(metadata: Any) -> str | None:
    """The payment's reference Checkout copied into the PaymentIntent's (and its charges') metadata."""
    return metadata.get("payment_ref") if isinstance(metadata, dict) else None


def _receipt_url(charge: dict[str, Any]) -> str:
    value = charge.get("receipt_url")
    return value if isinstance(value, str) else ""


def _id(value: Any) -> str:
    """An expandable field's id: Stripe sends a string, or the object when expanded."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")
