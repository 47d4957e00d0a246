"""Every write of the billing app: checkouts, fulfilment, webhooks, refunds and disputes.

One fulfilment path. A paid Checkout Session, whether Stripe reports it
(``checkout.session.completed`` with ``payment_status`` paid, or
``checkout.session.async_payment_succeeded``) or the sandbox page completes
it, goes through ``payment_fulfil``, which grants the pack's credits through
the ledger under the key ``checkout:<session id>``. "Exactly once" rests on
three guards:

1. the webhook event row, unique by Stripe's id (a racing INSERT fails and
   reads the first row) and locked while it is processed: a racing or later
   delivery of the same event waits, then finds it processed and does nothing;
2. the payment row, locked while it is fulfilled: a second event for the same
   session (or a second click on the sandbox's Pay) finds the credits granted;
3. the ledger's unique (account, idempotency key): even if both of the above
   were bypassed, a second grant under the session's key returns the first.

Locks are always taken in the order event -> payment -> credit account.

Refunds and disputes take credits back through ``credits_reverse``, which
never drives a balance below zero; what it could not take is recorded as a
shortfall on the payment and on the reversal row, for operators.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import stripe
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from billing import selectors
from billing.conf import WEBHOOK_TOLERANCE_SECONDS, stripe_client, stripe_config
from billing.errors import (
    CheckoutUnavailable,
    EventNotReady,
    InvalidWebhook,
    PaymentProviderError,
    WebhookNotConfigured,
    WebhookProcessingFailed,
)
from billing.models import CreditPack, Payment, Reversal, WebhookEvent
from core.errors import ConflictError, NotFoundError
from credits.models import LedgerEntry
from credits.services import credits_grant, credits_reverse
from monitoring.metrics import record_webhook_event

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

SANDBOX_SESSION_PREFIX = "sandbox_cs_"
# Stripe replaces this in the success URL with the Checkout Session's id (the
# sandbox redirects to the success page with its own id).
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
PAID_SESSION_STATUSES = ("paid", "no_payment_required")
# A dispute closed with one of these leaves the money with the merchant.
DISPUTE_WON_STATUSES = ("won", "warning_closed", "prevented")
ERROR_TEXT_LIMIT = 10_000
DONE_STATUSES = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)


# --- Checkout --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutStart:
    payment: Payment
    url: str

    @property
    def session_id(self) -> str:
        return self.payment.checkout_session_id


def pack_checkout_start(*, user: User, pack_id: int, success_url: str, cancel_url: str) -> CheckoutStart:
    """Open a checkout of an active pack for ``user`` and its pending payment.

    With a Stripe key, a Checkout Session in payment mode (the pack as its one
    line item, the user as ``client_reference_id`` and in the metadata); without
    one, a session of the platform's sandbox checkout. ``success_url`` may hold
    ``{CHECKOUT_SESSION_ID}``. The answer's ``url`` is where the buyer goes next."""
    config = stripe_config()
    pack = selectors.pack_get_active(pack_id=pack_id)
    if config.live:
        return _stripe_checkout_start(user=user, pack=pack, success_url=success_url, cancel_url=cancel_url)
    if config.sandbox:
        return _sandbox_checkout_start(user=user, pack=pack)
    raise CheckoutUnavailable()


def _stripe_checkout_start(
    *, user: User, pack: CreditPack, success_url: str, cancel_url: str
) -> CheckoutStart:
    reference = uuid.uuid4()
    metadata = {"payment_ref": str(reference), "user_id": str(user.pk), "pack_id": str(pack.pk)}
    try:
        session = stripe_client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": pack.currency,
                            "unit_amount": pack.price,
                            "product_data": {
                                "name": f"{pack.name} credit pack",
                                "description": f"{pack.credits:,} credits for the Product Intelligence API",
                            },
                        },
                    }
                ],
                "client_reference_id": str(user.pk),
                "customer_email": user.email,
                "metadata": metadata,
                # Copied to the PaymentIntent, so its charges, refunds and
                # disputes lead back to this payment.
                "payment_intent_data": {"metadata": metadata},
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            # One key per checkout: the library's retries of a failed connection
            # reuse it, and Stripe answers them with the same session.
            options={"idempotency_key": f"checkout-start:{reference}"},
        )
    except stripe.StripeError as exc:
        logger.warning("Stripe refused or failed to create a Checkout Session: %s", exc)
        raise PaymentProviderError() from exc
    if not session.id or not session.url:
        raise PaymentProviderError("The payment provider answered without a checkout page.")
    payment = Payment.objects.create(
        reference=reference,
        user=user,
        pack=pack,
        provider=Payment.Provider.STRIPE,
        checkout_session_id=session.id,
        checkout_url=session.url,
        credits=pack.credits,
        amount=session.amount_total if session.amount_total is not None else pack.price,
        currency=(session.currency or pack.currency).lower(),
    )
    return CheckoutStart(payment=payment, url=session.url)


def _sandbox_checkout_start(*, user: User, pack: CreditPack) -> CheckoutStart:
    session_id = f"{SANDBOX_SESSION_PREFIX}{uuid.uuid4().hex}"
    url = reverse("billing-sandbox", kwargs={"session_id": session_id})
    payment = Payment.objects.create(
        user=user,
        pack=pack,
        provider=Payment.Provider.SANDBOX,
        checkout_session_id=session_id,
        checkout_url=url,
        credits=pack.credits,
        amount=pack.price,
        currency=pack.currency,
    )
    return CheckoutStart(payment=payment, url=url)


def sandbox_checkout_complete(*, user: User, checkout_session_id: str) -> Payment:
    """The sandbox's Pay button: the same fulfilment as a paid Stripe session,
    under the same key, so a double click or a reload grants once. Only the
    payment's owner can complete it."""
    if not stripe_config().sandbox:
        raise CheckoutUnavailable("The sandbox checkout is turned off.")
    with transaction.atomic():
        payment = _payment_locked(
            checkout_session_id=checkout_session_id, user=user, provider=Payment.Provider.SANDBOX
        )
        if payment is None:
            raise NotFoundError("No such checkout.", code="checkout_not_found")
        if payment.status in (Payment.Status.FAILED, Payment.Status.EXPIRED):
            raise ConflictError("This checkout was cancelled; start a new one.", code="checkout_closed")
        return payment_fulfil(
            checkout_session_id=checkout_session_id, amount_paid=payment.amount, currency=payment.currency
        ).payment


def sandbox_checkout_cancel(*, user: User, checkout_session_id: str) -> Payment:
    """The sandbox's Cancel button: closes a pending sandbox payment unpaid."""
    payment = selectors.payment_get(user=user, checkout_session_id=checkout_session_id)
    if not payment.is_sandbox:
        raise NotFoundError("No such checkout.", code="checkout_not_found")
    closed = payment_close(checkout_session_id=checkout_session_id, status=Payment.Status.EXPIRED)
    assert closed is not None  # looked up just above; payments are never deleted
    return closed


# --- Fulfilment -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fulfilment:
    payment: Payment
    granted_now: bool


def payment_fulfil(
    *,
    checkout_session_id: str,
    payment_intent_id: str = "",
    amount_paid: int | None = None,
    currency: str | None = None,
) -> Fulfilment:
    """Mark the session's payment paid and grant its pack's credits, once.

    The single fulfilment path of Stripe's webhooks and the sandbox. Calling it
    again for the same session (a redelivery, a second event type, a second
    click) changes nothing and says so with ``granted_now=False``. A payment
    that failed or expired is still fulfilled: money Stripe reports as paid buys
    the credits."""
    with transaction.atomic():
        payment = _payment_locked(checkout_session_id=checkout_session_id)
        if payment is None:
            raise NotFoundError(
                f"No payment for Checkout Session {checkout_session_id}.", code="payment_not_found"
            )
        changed: list[str] = []
        if payment_intent_id and not payment.payment_intent_id:
            payment.payment_intent_id = payment_intent_id
            changed.append("payment_intent_id")
        if payment.credits_granted:
            if changed:
                payment.save(update_fields=[*changed, "updated_at"])
            return Fulfilment(payment=payment, granted_now=False)

        entry = credits_grant(
            user=payment.user,
            amount=payment.credits,
            kind=LedgerEntry.Kind.PURCHASE,
            reason=f"{payment.pack.name} pack ({payment.credits:,} credits)",
            reference=checkout_session_id,
            idempotency_key=payment.grant_key,
        )
        if amount_paid is not None:
            payment.amount = max(amount_paid, payment.amount_refunded)
        if currency:
            payment.currency = currency.lower()
        payment.credits_granted = entry.amount
        payment.status = Payment.Status.PAID
        payment.paid_at = timezone.now()
        payment.closed_at = None
        payment.save(
            update_fields=[
                *changed,
                "amount",
                "currency",
                "credits_granted",
                "status",
                "paid_at",
                "closed_at",
                "updated_at",
            ]
        )
    logger.info(
        "Payment %s fulfilled: %s credits granted to user %s", payment.pk, entry.amount, payment.user_id
    )
    return Fulfilment(payment=payment, granted_now=True)


def payment_close(*, checkout_session_id: str, status: str) -> Payment | None:
    """Close a pending payment unpaid (``failed`` or ``expired``). A payment
    already paid stays paid; an unknown session gives None."""
    if status not in (Payment.Status.FAILED, Payment.Status.EXPIRED):
        raise ValueError(f"A payment closes as failed or expired, not {status}.")
    with transaction.atomic():
        payment = _payment_locked(checkout_session_id=checkout_session_id)
        if payment is not None and payment.status == Payment.Status.PENDING:
            payment.status = status
            payment.closed_at = timezone.now()
            payment.save(update_fields=["status", "closed_at", "updated_at"])
    return payment


def payment_awaiting_record(*, checkout_session_id: str, payment_intent_id: str) -> Payment | None:
    """A session completed with an asynchronous payment method, not paid yet:
    keep its PaymentIntent so later refunds and disputes find the payment."""
    with transaction.atomic():
        payment = _payment_locked(checkout_session_id=checkout_session_id)
        if payment is not None and payment_intent_id and not payment.payment_intent_id:
            payment.payment_intent_id = payment_intent_id
            payment.save(update_fields=["payment_intent_id", "updated_at"])
    return payment


def _payment_locked(**lookup: Any) -> Payment | None:
    return (
        Payment.objects.select_for_update(of=("self",))
        .select_related("pack", "user")
        .filter(**lookup)
        .first()
    )


# --- Refunds and disputes ------------------------------------------------------------------


def payment_refund_apply(
    *,
    payment: Payment,
    charge_id: str,
    charge_amount: int,
    amount_refunded: int,
    occurred_at: dt.datetime | None = None,
) -> Reversal | None:
    """Take back the refunded share of a payment's credits.

    ``amount_refunded`` is the charge's cumulative refunded amount. The credits
    due back so far are ``floor(credits * amount_refunded / charge_amount)``;
    this refund asks for that less what earlier refunds and disputes already
    asked. The reversal is keyed by charge and cumulative amount, so a
    redelivery or a second event for the same refund changes nothing, and an
    older refund arriving after a newer one asks for nothing."""
    if charge_amount <= 0:
        raise ValueError("A refunded charge has a positive amount.")
    amount_refunded = max(0, min(amount_refunded, charge_amount))
    key = f"refund:{charge_id}:{amount_refunded}"
    with transaction.atomic():
        locked = _locked_for_reversal(payment)
        existing = Reversal.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        refunded_total = min(locked.amount, max(locked.amount_refunded, amount_refunded))
        money = refunded_total - locked.amount_refunded
        due = locked.credits_granted * amount_refunded // charge_amount
        asked = max(0, due - (locked.credits_reversed + locked.credits_shortfall))
        if not money and not asked:
            return None
        taken = _reverse_credits(locked, amount=asked, key=key, reason="Refund", reference=charge_id)
        reversal = Reversal.objects.create(
            payment=locked,
            kind=Reversal.Kind.REFUND,
            idempotency_key=key,
            stripe_id=charge_id,
            amount=money,
            credits_asked=asked,
            credits_taken=taken,
            credits_shortfall=asked - taken,
            occurred_at=occurred_at or timezone.now(),
        )
        locked.amount_refunded = refunded_total
        locked.charge_id = locked.charge_id or charge_id
        locked.credits_reversed += taken
        locked.credits_shortfall += asked - taken
        locked.status = _status_from_money(locked)
        locked.save(
            update_fields=[
                "amount_refunded",
                "charge_id",
                "credits_reversed",
                "credits_shortfall",
                "status",
                "updated_at",
            ]
        )
    _log_shortfall(reversal)
    return reversal


def payment_dispute_apply(
    *,
    payment: Payment,
    dispute_id: str,
    amount: int,
    charge_id: str = "",
    occurred_at: dt.datetime | None = None,
) -> Reversal:
    """A dispute was opened: hold (take back) the payment's credits not yet
    taken back, once per dispute. Given back if the dispute is won."""
    key = f"dispute:{dispute_id}"
    with transaction.atomic():
        locked = _locked_for_reversal(payment)
        existing = Reversal.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        asked = locked.credits_granted - locked.credits_reversed - locked.credits_shortfall
        taken = _reverse_credits(locked, amount=asked, key=key, reason="Dispute", reference=dispute_id)
        reversal = Reversal.objects.create(
            payment=locked,
            kind=Reversal.Kind.DISPUTE,
            idempotency_key=key,
            stripe_id=dispute_id,
            amount=amount,
            credits_asked=asked,
            credits_taken=taken,
            credits_shortfall=asked - taken,
            occurred_at=occurred_at or timezone.now(),
        )
        locked.dispute_id = dispute_id
        locked.dispute_status = Payment.DisputeStatus.OPEN
        locked.charge_id = locked.charge_id or charge_id
        locked.credits_reversed += taken
        locked.credits_shortfall += asked - taken
        locked.status = Payment.Status.DISPUTED
        locked.save(
            update_fields=[
                "dispute_id",
                "dispute_status",
                "charge_id",
                "credits_reversed",
                "credits_shortfall",
                "status",
                "updated_at",
            ]
        )
    _log_shortfall(reversal)
    return reversal


def payment_dispute_close(*, payment: Payment, dispute_id: str, dispute_status: str) -> Payment:
    """A dispute was closed. Won (the money stays): the credits it held go back
    and its shortfall is void. Lost: the credits stay taken back."""
    with transaction.atomic():
        locked = _locked_for_reversal(payment, need_granted=False)
        reversal = (
            Reversal.objects.select_for_update().filter(idempotency_key=f"dispute:{dispute_id}").first()
        )
        if reversal is None:
            raise EventNotReady(f"Dispute {dispute_id} closed before its opening was processed.")
        if locked.dispute_id != dispute_id or locked.dispute_status != Payment.DisputeStatus.OPEN:
            return locked  # already closed (a redelivery), or superseded by a later dispute
        if dispute_status in DISPUTE_WON_STATUSES:
            if reversal.credits_taken:
                credits_grant(
                    user=locked.user,
                    amount=reversal.credits_taken,
                    reason=f"Dispute {dispute_id} won: credits given back",
                    reference=dispute_id,
                    idempotency_key=f"dispute:{dispute_id}:won",
                )
                reversal.credits_returned = reversal.credits_taken
                reversal.save(update_fields=["credits_returned"])
            locked.credits_reversed -= reversal.credits_taken
            locked.credits_shortfall -= reversal.credits_shortfall
            locked.dispute_status = Payment.DisputeStatus.WON
            locked.status = _status_from_money(locked)
        elif dispute_status == "lost":
            locked.dispute_status = Payment.DisputeStatus.LOST
        else:
            return locked  # not a closing status: nothing to do
        locked.save(
            update_fields=["credits_reversed", "credits_shortfall", "dispute_status", "status", "updated_at"]
        )
    return locked


def _locked_for_reversal(payment: Payment, *, need_granted: bool = True) -> Payment:
    locked = _payment_locked(pk=payment.pk)
    assert locked is not None  # payments are never deleted
    if need_granted and not locked.credits_granted:
        # A refund or dispute whose payment's completion has not arrived yet:
        # fail now, and Stripe's retry finds the credits granted.
        raise EventNotReady(f"Payment {locked.reference} has not been fulfilled yet.")
    return locked


def _reverse_credits(payment: Payment, *, amount: int, key: str, reason: str, reference: str) -> int:
    """Take back up to ``amount`` credits; what was actually taken."""
    if amount <= 0:
        return 0
    entry = credits_reverse(
        user=payment.user,
        amount=amount,
        reason=f"{reason} of the {payment.pack.name} pack",
        idempotency_key=key,
        reference=reference,
    )
    return -entry.amount


def _status_from_money(payment: Payment) -> str:
    if payment.dispute_status in (Payment.DisputeStatus.OPEN, Payment.DisputeStatus.LOST):
        return Payment.Status.DISPUTED
    if payment.amount_refunded >= payment.amount:
        return Payment.Status.REFUNDED
    if payment.amount_refunded > 0:
        return Payment.Status.PARTIALLY_REFUNDED
    return Payment.Status.PAID


def _log_shortfall(reversal: Reversal) -> None:
    if reversal.credits_shortfall:
        logger.warning(
            "%s %s on payment %s: %s of %s credits could not be taken back (already spent)",
            reversal.get_kind_display(),
            reversal.stripe_id,
            reversal.payment_id,
            reversal.credits_shortfall,
            reversal.credits_asked,
        )


# --- Webhooks ------------------------------------------------------------------------------


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


def _on_charge_refunded(charge: dict[str, Any], event: WebhookEvent) -> Outcome:
    payment = _payment_for_charge(
        payment_intent_id=_id(charge.get("payment_intent")),
        charge_id=charge["id"],
        metadata=charge.get("metadata"),
    )
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
            },
        )
    if created:
        logger.warning("Payment for Checkout Session %s recreated from its metadata", session["id"])
    return payment


def _payment_for_charge(*, payment_intent_id: str, charge_id: str, metadata: Any = None) -> Payment:
    payment_ref = metadata.get("payment_ref") if isinstance(metadata, dict) else None
    payment = selectors.payment_for_charge(
        payment_intent_id=payment_intent_id, charge_id=charge_id, payment_ref=payment_ref
    )
    if payment is None:
        # Most likely its checkout.session.completed has not arrived yet.
        raise EventNotReady(
            f"No payment for PaymentIntent {payment_intent_id or '-'} / charge {charge_id or '-'} yet."
        )
    return payment


def _id(value: Any) -> str:
    """An expandable field's id: Stripe sends a string, or the object when expanded."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")
