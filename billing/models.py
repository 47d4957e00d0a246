"""Credit packs, their payments through Stripe Checkout (or the sandbox), the
credits taken back by refunds and disputes, and the log of Stripe's webhooks.

Invariants kept by the database:

- a payment is unique per Checkout Session, a webhook event per Stripe id, a
  reversal per idempotency key: a redelivered or racing event finds the row
  the first one wrote;
- credits granted are the pack's or none; what refunds and disputes take back
  (``credits_reversed``) and what they could not take because it was already
  spent (``credits_shortfall``) never exceed what was granted;
- refunded money never exceeds the amount paid.

Credits themselves move only through credits/services.py (the ledger); these
rows record what billing asked of it and why.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from core.money import format_money, format_unit_price, unit_price

CURRENCY_PATTERN = r"^[a-z]{3}$"
# What a Checkout Session id looks like: Stripe's "cs_test_..." and "cs_live_...", the
# sandbox's "sandbox_cs_<hex>"; letters, digits and underscores, no longer than the column.
# Anything else (a NUL byte, which PostgreSQL refuses in text, bytes that are not UTF-8,
# 10,000 characters) names no payment and is never looked up.
CHECKOUT_SESSION_ID = re.compile(r"(?:sandbox_)?cs_\w+", re.ASCII)
CHECKOUT_SESSION_ID_MAX_LENGTH = 255


def checkout_session_id_valid(value: str) -> bool:
    return len(value) <= CHECKOUT_SESSION_ID_MAX_LENGTH and CHECKOUT_SESSION_ID.fullmatch(value) is not None


# How long a Checkout Session stays open when its creation did not say (Stripe's default): the
# expiry of a payment stored before ``expires_at`` was.
STRIPE_DEFAULT_SESSION_LIFETIME = dt.timedelta(hours=24)

currency_validator = RegexValidator(CURRENCY_PATTERN, "A three-letter ISO currency code in lower case (usd).")


class CreditPack(models.Model):
    """A number of credits sold at a price. Editable in the admin; a payment
    keeps its own copy of credits and price, so editing a pack changes only
    future purchases."""

    name = models.CharField(max_length=100)
    credits = models.PositiveIntegerField(help_text="Credits granted when the pack is paid.")
    price = models.PositiveIntegerField(
        help_text="Price in the smallest currency unit (cents for USD: 900 is $9.00)."
    )
    currency = models.CharField(max_length=3, default="usd", validators=[currency_validator])
    active = models.BooleanField(default=True, help_text="Offered for sale.")
    order = models.PositiveIntegerField(default=0, help_text="Packs are listed by this number, lowest first.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("order", "id")
        constraints = [
            models.CheckConstraint(condition=Q(credits__gt=0), name="billing_pack_credits_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="billing_pack_price_positive"),
            models.CheckConstraint(
                condition=Q(currency__regex=CURRENCY_PATTERN), name="billing_pack_currency_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.credits:,} credits, {self.price_display})"

    @property
    def price_display(self) -> str:
        return format_money(self.price, self.currency)

    @property
    def price_per_credit(self) -> Decimal:
        """What one credit of the pack costs, in the major unit (900 usd for 500 -> 0.018)."""
        return unit_price(self.price, self.credits, self.currency)

    @property
    def price_per_credit_display(self) -> str:
        return format_unit_price(self.price_per_credit, self.currency)


class Payment(models.Model):
    """One checkout of one pack by one user, from the Checkout Session to its
    refunds and disputes."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        DISPUTED = "disputed", "Disputed"

    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        SANDBOX = "sandbox", "Sandbox (no real payment)"

    class DisputeStatus(models.TextChoices):
        NONE = "", "None"
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    # Public id, sent to Stripe as metadata: links Stripe's objects back to this row.
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    pack = models.ForeignKey(CreditPack, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=10, choices=Provider.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    checkout_session_id = models.CharField(max_length=CHECKOUT_SESSION_ID_MAX_LENGTH, unique=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True)
    charge_id = models.CharField(max_length=255, blank=True)
    # Copied from the pack when the checkout starts; ``amount`` becomes what was
    # actually paid (the session's amount_total) when it is paid.
    credits = models.PositiveIntegerField()
    amount = models.PositiveIntegerField(help_text="In the smallest currency unit.")
    currency = models.CharField(max_length=3, validators=[currency_validator])
    amount_refunded = models.PositiveIntegerField(default=0, help_text="Cumulative, smallest currency unit.")
    credits_granted = models.PositiveIntegerField(default=0)
    credits_reversed = models.PositiveIntegerField(
        default=0, help_text="Credits taken back by refunds and disputes (less those given back)."
    )
    credits_shortfall = models.PositiveIntegerField(
        default=0,
        help_text="Credits that refunds and disputes should have taken back but the user had already spent.",
    )
    dispute_id = models.CharField(max_length=255, blank=True)
    dispute_status = models.CharField(max_length=10, choices=DisputeStatus.choices, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it failed or expired unpaid.")
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its checkout (Stripe's or the sandbox's) stops taking payment.",
    )
    receipt_url = models.URLField(
        max_length=2000, blank=True, help_text="Stripe's receipt of the charge, when an event brought it."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            # The sweep's search for abandoned checkouts: pending payments by expiry.
            models.Index(
                fields=["expires_at"], condition=Q(status="pending"), name="billing_payment_pending_expiry"
            ),
            models.Index(fields=["user", "-created_at"], name="billing_payment_user_time"),
            models.Index(fields=["payment_intent_id"], name="billing_payment_intent"),
            models.Index(fields=["charge_id"], name="billing_payment_charge"),
            models.Index(fields=["paid_at"], name="billing_payment_paid_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["payment_intent_id"],
                condition=~Q(payment_intent_id=""),
                name="billing_payment_intent_unique",
            ),
            models.CheckConstraint(condition=Q(credits__gt=0), name="billing_payment_credits_positive"),
            models.CheckConstraint(
                condition=Q(credits_granted=0) | Q(credits_granted=F("credits")),
                name="billing_payment_granted_all_or_nothing",
            ),
            models.CheckConstraint(
                condition=Q(credits_granted__gte=F("credits_reversed") + F("credits_shortfall")),
                name="billing_payment_reversed_within_granted",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount")), name="billing_payment_refund_within_amount"
            ),
            models.CheckConstraint(
                condition=Q(credits_granted=0) | Q(paid_at__isnull=False),
                name="billing_payment_granted_when_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pack.name} for {self.user} ({self.get_status_display()})"

    @property
    def is_sandbox(self) -> bool:
        return self.provider == self.Provider.SANDBOX

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)

    @property
    def amount_refunded_display(self) -> str:
        return format_money(self.amount_refunded, self.currency)

    @property
    def amount_net_display(self) -> str:
        return format_money(self.amount - self.amount_refunded, self.currency)

    @property
    def price_per_credit(self) -> Decimal:
        """What one credit of this checkout costs (or cost), in the major unit."""
        return unit_price(self.amount, self.credits, self.currency)

    @property
    def grant_key(self) -> str:
        """The ledger key of this payment's purchase: one grant per Checkout Session."""
        return grant_key(self.checkout_session_id)

    @property
    def checkout_deadline(self) -> dt.datetime:
        """When the checkout stops taking payment (Stripe's default lifetime for an older row)."""
        return self.expires_at or self.created_at + STRIPE_DEFAULT_SESSION_LIFETIME

    @property
    def awaits_async_payment(self) -> bool:
        """Checked out with a payment method that confirms later (a bank debit): not abandoned."""
        return self.status == self.Status.PENDING and bool(self.payment_intent_id)

    @property
    def is_abandoned(self) -> bool:
        """Expired unpaid, or still pending past its checkout's expiry (until the expiry event or
        the sweep closes it)."""
        if self.status == self.Status.EXPIRED:
            return True
        return (
            self.status == self.Status.PENDING
            and not self.awaits_async_payment
            and self.checkout_deadline <= timezone.now()
        )

    @property
    def can_complete(self) -> bool:
        """The buyer can still go back to its checkout and pay."""
        return self.status == self.Status.PENDING and not self.awaits_async_payment and not self.is_abandoned

    @property
    def has_receipt(self) -> bool:
        """Paid (whatever refunds or disputes came after): there is something to give a receipt for."""
        return self.paid_at is not None and self.credits_granted > 0

    @property
    def receipt_number(self) -> str:
        """Stable and unguessable enough to quote: the day paid (UTC) and the start of the reference."""
        assert self.paid_at is not None, "only a paid payment has a receipt"
        return f"R-{self.paid_at.astimezone(dt.UTC):%Y%m%d}-{self.reference.hex[:8].upper()}"


def grant_key(checkout_session_id: str) -> str:
    return f"checkout:{checkout_session_id}"


class Reversal(models.Model):
    """Money and credits a refund or a dispute took back from a payment.

    ``credits_asked`` is the payment's share for this refund or dispute;
    ``credits_taken`` what the ledger could take (never below a zero balance);
    ``credits_shortfall`` the rest, already spent, for operators to follow up.
    A won dispute gives its credits back (``credits_returned``)."""

    class Kind(models.TextChoices):
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="reversals")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=255, unique=True)
    stripe_id = models.CharField(max_length=255, help_text="The refunded charge, or the dispute.")
    amount = models.PositiveIntegerField(
        default=0, help_text="Money refunded by this refund, or disputed, in the smallest currency unit."
    )
    credits_asked = models.PositiveIntegerField(default=0)
    credits_taken = models.PositiveIntegerField(default=0)
    credits_shortfall = models.PositiveIntegerField(default=0)
    credits_returned = models.PositiveIntegerField(default=0, help_text="Given back when a dispute was won.")
    occurred_at = models.DateTimeField(default=timezone.now, help_text="When Stripe reported it.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("occurred_at", "id")
        indexes = [models.Index(fields=["kind", "occurred_at"], name="billing_reversal_kind_time")]
        constraints = [
            models.CheckConstraint(
                condition=Q(credits_asked=F("credits_taken") + F("credits_shortfall")),
                name="billing_reversal_asked_is_taken_plus_shortfall",
            ),
            models.CheckConstraint(
                condition=Q(credits_returned__lte=F("credits_taken")),
                name="billing_reversal_returned_within_taken",
            ),
            models.CheckConstraint(
                condition=Q(kind="dispute") | Q(credits_returned=0),
                name="billing_reversal_only_disputes_return",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.stripe_id}: {self.credits_taken} credits taken"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.payment.currency)


class WebhookEvent(models.Model):
    """One Stripe event, stored once by its id however often it is delivered,
    with what processing it did (status) and why it failed (error)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True, help_text="Id of the event's object.")
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=50, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    note = models.CharField(
        max_length=255, blank=True, help_text="What processing did, or why it ignored it."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Times processing ran.")
    deliveries = models.PositiveIntegerField(default=1, help_text="Times Stripe delivered it.")
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    last_delivered_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-received_at", "-id")
        indexes = [
            models.Index(fields=["status", "-received_at"], name="billing_event_status_time"),
            models.Index(fields=["object_id"], name="billing_event_object"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (self.Status.PROCESSED, self.Status.IGNORED)
