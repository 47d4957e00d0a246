"""Buying a credit pack: starting a checkout (Stripe or the sandbox) and fulfilling it.

One fulfilment path. A paid Checkout Session, whether Stripe reports it
(``checkout.session.completed`` with ``payment_status`` paid, or
``checkout.session.async_payment_succeeded``, billing/stripe_events.py) or the
sandbox page completes it, goes through ``payment_fulfil``, which grants the
pack's credits through the ledger under the key ``checkout:<session id>``.
"Exactly once" rests on three guards:

1. the webhook event row, unique by Stripe's id (a racing INSERT fails and
   reads the first row) and locked while it is processed: a racing or later
   delivery of the same event waits, then finds it processed and does nothing;
2. the payment row, locked while it is fulfilled (``payment_locked``): a second
   event for the same session (or a second click on the sandbox's Pay) finds
   the credits granted;
3. the ledger's unique (account, idempotency key): even if both of the above
   were bypassed, a second grant under the session's key returns the first.

Locks are always taken in the order event -> payment -> credit account.
Refunds and disputes are billing/payments.py's.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import stripe
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from billing import selectors
from billing.conf import (
    CHECKOUT_EXPIRY_SWEEP_BATCH,
    CHECKOUT_EXPIRY_SWEEP_MARGIN_MINUTES,
    stripe_client,
    stripe_config,
)
from billing.errors import CheckoutUnavailable, PaymentProviderError
from billing.models import STRIPE_DEFAULT_SESSION_LIFETIME, CreditPack, Payment
from core.errors import ConflictError, NotFoundError
from credits.models import LedgerEntry
from credits.services import credits_grant

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

SANDBOX_SESSION_PREFIX = "sandbox_cs_"
# Where Stripe serves a charge's receipt (the charge's ``receipt_url``).
STRIPE_RECEIPT_HOSTS = frozenset({"pay.stripe.com"})
RECEIPT_URL_MAX_LENGTH = 2000
# Stripe replaces this in the success URL with the Checkout Session's id (the
# sandbox redirects to the success page with its own id).
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


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
    ``{CHECKOUT_SESSION_ID}``. The answer's ``url`` is where the buyer goes next. Either
    checkout expires after ``BILLING_CHECKOUT_EXPIRY_MINUTES`` (``payment.expires_at``)."""
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
    # Stripe's default is 24 hours; an abandoned checkout should not stay "pending" that long.
    expires_at = _checkout_expiry()
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
                "expires_at": int(expires_at.timestamp()),
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
        # What Stripe says, which is what was asked unless a retry found an older session.
        expires_at=_from_timestamp(session.expires_at) or expires_at,
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
        expires_at=_checkout_expiry(),
    )
    return CheckoutStart(payment=payment, url=url)


def _checkout_expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=stripe_config().checkout_expiry_minutes)


def _from_timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return None


def sandbox_checkout_complete(*, user: User, checkout_session_id: str) -> Payment:
    """The sandbox's Pay button: the same fulfilment as a paid Stripe session,
    under the same key, so a double click or a reload grants once. Only the
    payment's owner can complete it, and only before it expires (as Stripe's page)."""
    if not stripe_config().sandbox:
        raise CheckoutUnavailable("The sandbox checkout is turned off.")
    with transaction.atomic():
        payment = payment_locked(
            checkout_session_id=checkout_session_id, user=user, provider=Payment.Provider.SANDBOX
        )
        if payment is None:
            raise NotFoundError("No such checkout.", code="checkout_not_found")
        if payment.status in (Payment.Status.FAILED, Payment.Status.EXPIRED):
            raise ConflictError("This checkout was cancelled; start a new one.", code="checkout_closed")
        if not payment.is_abandoned:
            return payment_fulfil(
                checkout_session_id=checkout_session_id, amount_paid=payment.amount, currency=payment.currency
            ).payment
        # Past its expiry: closed here and now (committed), not left for the sweep.
        _close(payment, status=Payment.Status.EXPIRED)
    raise ConflictError("This checkout expired; start a new one.", code="checkout_expired")


def sandbox_checkout_cancel(*, user: User, checkout_session_id: str) -> Payment:
    """The sandbox's Cancel button: closes a pending sandbox payment unpaid."""
    payment = selectors.payment_get(user=user, checkout_session_id=checkout_session_id)
    if not payment.is_sandbox:
        raise NotFoundError("No such checkout.", code="checkout_not_found")
    closed = payment_close(checkout_session_id=checkout_session_id, status=Payment.Status.EXPIRED)
    assert closed is not None  # looked up just above; payments are never deleted
    return closed


# --- Fulfilment: the one path that grants a paid checkout's credits -----------------------


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
        payment = payment_locked(checkout_session_id=checkout_session_id)
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
        payment = payment_locked(checkout_session_id=checkout_session_id)
        if payment is not None and payment.status == Payment.Status.PENDING:
            _close(payment, status=status)
    return payment


def _close(payment: Payment, *, status: str) -> None:
    payment.status = status
    payment.closed_at = timezone.now()
    payment.save(update_fields=["status", "closed_at", "updated_at"])


def payments_expire_abandoned(*, now: dt.datetime | None = None) -> int:
    """Close as expired the pending payments whose checkout expired more than the margin ago:
    the sandbox's (no event ever comes), and Stripe's whose ``checkout.session.expired`` never
    arrived. A session checked out with a payment method that confirms later (it has a
    PaymentIntent) is not abandoned and stays pending. An expired payment that Stripe then
    reports paid is still fulfilled (``payment_fulfil``): money is never lost. Oldest first, at
    most a batch per run; the number closed."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=CHECKOUT_EXPIRY_SWEEP_MARGIN_MINUTES)
    deadline = Coalesce(
        "expires_at",
        ExpressionWrapper(
            F("created_at") + Value(STRIPE_DEFAULT_SESSION_LIFETIME), output_field=DateTimeField()
        ),
    )
    session_ids = list(
        Payment.objects.filter(status=Payment.Status.PENDING, payment_intent_id="")
        .annotate(deadline=deadline)
        .filter(deadline__lt=cutoff)
        .order_by("deadline", "pk")
        .values_list("checkout_session_id", flat=True)[:CHECKOUT_EXPIRY_SWEEP_BATCH]
    )
    closed = 0
    for session_id in session_ids:
        # One transaction each, under the payment's lock: a completion racing the sweep either
        # went first (the payment is no longer pending and stays as it is) or fulfils after.
        with transaction.atomic():
            payment = payment_locked(checkout_session_id=session_id)
            if (
                payment is not None
                and payment.status == Payment.Status.PENDING
                and not payment.awaits_async_payment
                and payment.checkout_deadline < cutoff
            ):
                _close(payment, status=Payment.Status.EXPIRED)
                closed += 1
    if closed:
        logger.info("%s abandoned checkouts closed as expired", closed)
    return closed


def payment_charge_record(*, payment: Payment, charge_id: str, receipt_url: str) -> Payment:
    """Keep what Stripe's charge events tell about a payment's charge: its id (refunds and
    disputes name it) and Stripe's receipt page, shown on the platform's receipt. A receipt
    address that is not Stripe's own https page is not kept."""
    with transaction.atomic():
        locked = payment_locked(pk=payment.pk)
        assert locked is not None  # payments are never deleted
        changed: list[str] = []
        if charge_id and not locked.charge_id:
            locked.charge_id = charge_id
            changed.append("charge_id")
        if receipt_url_valid(receipt_url) and receipt_url != locked.receipt_url:
            locked.receipt_url = receipt_url
            changed.append("receipt_url")
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
    return locked


def receipt_url_valid(url: str) -> bool:
    """Stripe's receipts are served from pay.stripe.com over https; nothing else is linked."""
    parts = urlsplit(url)
    return (
        len(url) <= RECEIPT_URL_MAX_LENGTH
        and parts.scheme == "https"
        and (parts.hostname or "") in STRIPE_RECEIPT_HOSTS
        and not parts.username
        and not parts.password
    )


def payment_awaiting_record(*, checkout_session_id: str, payment_intent_id: str) -> Payment | None:
    """A session completed with an asynchronous payment method, not paid yet:
    keep its PaymentIntent so later refunds and disputes find the payment."""
    with transaction.atomic():
        payment = payment_locked(checkout_session_id=checkout_session_id)
        if payment is not None and payment_intent_id and not payment.payment_intent_id:
            payment.payment_intent_id = payment_intent_id
            payment.save(update_fields=["payment_intent_id", "updated_at"])
    return payment


def payment_locked(**lookup: Any) -> Payment | None:
    """The payment found by ``lookup``, its row locked until the transaction ends (with its pack
    and user); every write to a payment takes it, after the event's lock and before the account's."""
    return (
        Payment.objects.select_for_update(of=("self",))
        .select_related("pack", "user")
        .filter(**lookup)
        .first()
    )
