"""The credit ledger: one account per user, an append-only ledger, holds and prices.

Invariants kept by the database, not only by Python:

- ``CreditAccount.balance >= 0`` (CHECK);
- a ledger entry is unique per ``(account, idempotency_key)``, so a retried
  request or task never moves money twice;
- a charge is refunded at most once (``refund_of`` is unique);
- each kind of entry moves the balance in its own direction (CHECK);
- ledger rows are never updated or deleted (a trigger, see migration 0003);
- the balance equals the sum of the account's entries: every change of the
  balance writes its entry in the same transaction (credits/services.py), and
  ``manage.py reconcile_credits`` proves it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Operation:
    """Codes of the metered operations. A code is a row of ``Price``; apps add
    their own codes by a data migration that creates the price."""

    ASIN_LOOKUP = "asin_lookup"
    FNSKU_CONVERSION = "fnsku_conversion"
    BULK_ITEM = "bulk_item"
    CODE_LOOKUP = "code_lookup"
    MANIFEST_LINE = "manifest_line"


# Created by migration 0002 and editable in the admin. The price loader falls
# back to these for a code that has no row (a database flushed by a
# transactional test, or a deploy between code and migration), so a missing
# row never makes a metered endpoint fail; the admin cannot delete prices.
DEFAULT_PRICES: dict[str, tuple[int, str]] = {
    Operation.ASIN_LOOKUP: (1, "Product data for one ASIN"),
    Operation.FNSKU_CONVERSION: (2, "One FNSKU converted to its ASIN"),
    Operation.BULK_ITEM: (1, "One item of a bulk job"),
    Operation.CODE_LOOKUP: (1, "Products for one barcode (EAN, UPC, ISBN)"),
    Operation.MANIFEST_LINE: (2, "One line of a liquidation manifest: resolved, priced, fees and profit"),
}


class CreditAccount(models.Model):
    """A user's credits. ``balance`` is a cache of the sum of the ledger,
    moved only by credits/services.py in the same transaction as its entry."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_account"
    )
    balance = models.BigIntegerField(default=0)
    low_balance_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Show a notice when the balance falls below this many credits (empty: never).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="credits_account_balance_not_negative"),
        ]
        permissions = [("adjust_credits", "Can adjust credit balances")]

    def __str__(self) -> str:
        return f"{self.user} ({self.balance} credits)"

    @property
    def is_low(self) -> bool:
        return self.low_balance_threshold is not None and self.balance < self.low_balance_threshold


class CreditHold(models.Model):
    """Credits set aside for a bulk job. The hold's ledger entry takes
    ``amount`` off the balance; releases give unused credits back; settling
    keeps ``used`` and releases the rest, after which the hold is closed."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SETTLED = "settled", "Settled"

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="holds")
    amount = models.BigIntegerField()
    released = models.BigIntegerField(default=0)
    used = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    operation = models.CharField(max_length=50, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["account", "idempotency_key"], name="credits_hold_unique_key"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="credits_hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(released__gte=0, used__gte=0, amount__gte=F("released") + F("used")),
                name="credits_hold_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(status="open", settled_at__isnull=True)
                | Q(status="settled", settled_at__isnull=False, amount=F("released") + F("used")),
                name="credits_hold_settled_closes_it",
            ),
        ]

    def __str__(self) -> str:
        return f"Hold of {self.amount} for {self.reference or self.idempotency_key} ({self.status})"

    @property
    def remaining(self) -> int:
        return self.amount - self.released - self.used


class LedgerEntry(models.Model):
    """One movement of an account's balance. Append-only: never updated or deleted."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        GRANT = "grant", "Grant"
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"
        HOLD = "hold", "Hold"
        RELEASE = "release", "Release"
        REVERSAL = "reversal", "Reversal"

    # Indexed by the (account, idempotency key) constraint and the indexes below.
    account = models.ForeignKey(
        CreditAccount, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.BigIntegerField(help_text="Signed change of the balance.")
    balance_after = models.BigIntegerField()
    operation = models.CharField(max_length=50, blank=True, help_text="Priced operation, for charges.")
    reference = models.CharField(max_length=255, blank=True, help_text="What caused the entry.")
    description = models.CharField(max_length=255, blank=True, help_text="Reason, for people.")
    idempotency_key = models.CharField(max_length=255)
    # The three optional links are indexed by partial indexes (below) that
    # leave out the NULLs: a charge, the common row, then updates three
    # indexes (key, primary key, history) instead of seven.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text="Who made the entry, when a person did (an admin adjustment).",
    )
    refund_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
        db_index=False,
        help_text="The charge this refund gives back (at most one refund per charge).",
    )
    hold = models.ForeignKey(
        CreditHold, on_delete=models.PROTECT, null=True, blank=True, related_name="entries", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger entries"
        ordering = ("-created_at", "-id")
        indexes = [
            # The history, its filters and the usage chart: one account, a time range.
            models.Index(fields=["account", "-created_at", "-id"], name="credits_entry_account_time"),
            models.Index(fields=["hold"], condition=Q(hold__isnull=False), name="credits_entry_hold"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="credits_entry_actor"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="credits_entry_unique_idempotency_key"
            ),
            models.UniqueConstraint(
                fields=["refund_of"], condition=Q(refund_of__isnull=False), name="credits_entry_refund_once"
            ),
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="credits_entry_key_not_empty"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="credits_entry_balance_after"),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["purchase", "grant", "release"], amount__gt=0)
                    | Q(kind__in=["charge", "reversal"], amount__lte=0)
                    | Q(kind="refund", amount__gte=0, refund_of__isnull=False)
                    | Q(kind="hold", amount__lt=0, hold__isnull=False)
                    | (Q(kind="adjustment") & ~Q(amount=0))
                ),
                name="credits_entry_amount_sign_by_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["hold", "release"]) | Q(hold__isnull=True),
                name="credits_entry_hold_only_for_holds",
            ),
            models.CheckConstraint(
                condition=Q(kind="refund") | Q(refund_of__isnull=True),
                name="credits_entry_refund_of_only_for_refunds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d} → {self.balance_after}"


class Price(models.Model):
    """Credits one metered operation costs. Edited in the admin through
    ``services.price_set`` so every process picks the change up."""

    operation = models.CharField(max_length=50, unique=True)
    credits = models.PositiveIntegerField()
    description = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("operation",)

    def __str__(self) -> str:
        return f"{self.operation}: {self.credits}"
