"""A paid pack's money going back: refunds and disputes, and the credits they take back.

Refunds and disputes take credits back through ``credits_reverse``, which
never drives a balance below zero; what it could not take is recorded as a
shortfall on the payment and on the reversal row, for operators. Each is
applied once, under its own key (``refund:<charge>:<amount refunded>``,
``dispute:<id>``, unique on ``Reversal``); a won dispute gives its credits back.
The payment is locked (billing/checkout.py ``payment_locked``) before the
credit account, as on every path.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from billing.checkout import payment_locked
from billing.errors import EventNotReady
from billing.models import Payment, Reversal
from credits.services import credits_grant, credits_reverse

logger = logging.getLogger(__name__)

# A dispute closed with one of these leaves the money with the merchant.
DISPUTE_WON_STATUSES = ("won", "warning_closed", "prevented")


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
    locked = payment_locked(pk=payment.pk)
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
