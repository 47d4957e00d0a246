"""FNSKU conversion: the mapping store, sellers' SP-API connections, conversions and feedback.

Trust, decided here and kept by the constraints below:

- A seller's own FBA inventory and inventory reports are *theirs*: rows with a
  ``user``, used only for that user's conversions (they reveal what a seller
  stocks). One row per (user, FNSKU, marketplace, source): a seller's FNSKU
  names one listing, so a newer report replaces the ASIN.
- A user's confirmation or correction is kept twice: as their own row (source
  ``confirmed`` with their ``user``: strong evidence for them), and counted into
  a shared row (``confirmed`` with no user) whose ``times_confirmed`` and
  ``times_rejected`` count *distinct users*, so one user repeating themselves
  never raises everyone's trust; many users agreeing does.
- A confident answer found by catalogue search is learnt as a shared row
  (source ``provider``), weak evidence that ``times_seen`` strengthens a little.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class FnskuMapping(models.Model):
    class Source(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed by users"
        FBA_INVENTORY = "fba_inventory", "Seller's FBA inventory (SP-API)"
        INVENTORY_REPORT = "inventory_report", "Seller's inventory report"
        PROVIDER = "provider", "Learnt from catalogue search"

    OWN_SOURCES = (Source.FBA_INVENTORY, Source.INVENTORY_REPORT)

    fnsku = models.CharField(max_length=10)
    marketplace = models.CharField(max_length=2)
    asin = models.CharField(max_length=10)
    source = models.CharField(max_length=20, choices=Source.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="fnsku_mappings",
        help_text="Whose mapping this is; empty for shared rows (confirmations counted per user, learnt).",
    )
    seller_sku = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=500, blank=True, help_text="The product name the source gave.")
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    times_seen = models.PositiveIntegerField(default=1)
    times_confirmed = models.PositiveIntegerField(default=0)
    times_rejected = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["fnsku", "marketplace"], name="fnsku_mapping_lookup")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "fnsku", "marketplace", "source"],
                condition=Q(user__isnull=False),
                name="fnsku_mapping_unique_own",
            ),
            models.UniqueConstraint(
                fields=["fnsku", "marketplace", "asin", "source"],
                condition=Q(user__isnull=True),
                name="fnsku_mapping_unique_shared",
            ),
            models.CheckConstraint(
                condition=Q(source__in=["fba_inventory", "inventory_report"], user__isnull=False)
                | Q(source="provider", user__isnull=True)
                | Q(source="confirmed"),
                name="fnsku_mapping_source_scope",
            ),
            models.CheckConstraint(
                condition=Q(last_seen__gte=F("first_seen")), name="fnsku_mapping_seen_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fnsku} → {self.asin} ({self.marketplace}, {self.source})"


class SpApiConnection(models.Model):
    """A seller's authorisation of the platform's SP-API application (for their FBA inventory).

    The refresh token is stored encrypted (conversion/tokens.py) and never shown
    again; ``token_hint`` is its last characters, so the seller can tell which one it is."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spapi_connection"
    )
    selling_partner_id = models.CharField(max_length=32)
    refresh_token_encrypted = models.TextField()
    token_hint = models.CharField(max_length=8, blank=True)
    is_active = models.BooleanField(default=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} ({self.selling_partner_id})"


class FbaSync(models.Model):
    """Where a seller's FBA inventory sync stands in one marketplace.

    ``synced_at`` is when the last sync that reached the end began: the next
    sync asks only for summaries changed since (``startDateTime``)."""

    connection = models.ForeignKey(SpApiConnection, on_delete=models.CASCADE, related_name="syncs")
    marketplace = models.CharField(max_length=2)
    synced_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    items_seen = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "marketplace"], name="fba_sync_unique_marketplace"),
        ]

    def __str__(self) -> str:
        return f"{self.connection_id} {self.marketplace}"


class Conversion(models.Model):
    """One conversion asked for: what came out, how sure, what it cost (the conversions' log)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RESOLVED = "resolved"
        AMBIGUOUS = "ambiguous"
        NOT_FOUND = "not_found"
        UNAVAILABLE = "unavailable"
        INSUFFICIENT_CREDITS = "insufficient_credits"

    ANSWERED = (Status.RESOLVED, Status.AMBIGUOUS)

    class Channel(models.TextChoices):
        API = "api"
        PAGE = "page"
        BULK = "bulk"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fnsku_conversions"
    )
    fnsku = models.CharField(max_length=10)
    marketplace = models.CharField(max_length=2)
    label_text = models.CharField(max_length=300, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.PENDING)
    asin = models.CharField(max_length=10, blank=True)
    title = models.CharField(max_length=500, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    candidates = models.JSONField(default=list, blank=True)
    evidence = models.JSONField(default=list, blank=True)
    # The product data provider whose record or search named the answer; ``sample_data``: the
    # sandbox's invented record, never Amazon's.
    provider = models.CharField(max_length=20, blank=True)
    sample_data = models.BooleanField(default=False)
    credits_charged = models.PositiveIntegerField(default=0)
    # The ledger entry of the charge (credits.LedgerEntry), to refund it and to trace it.
    charge_entry_id = models.BigIntegerField(null=True, blank=True)
    # NULL, not empty, when there is none: the unique constraint then ignores the row.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    error_code = models.CharField(max_length=50, blank=True)
    latency_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="conversion_user_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="conversion_unique_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="conversion_confidence_0_1",
            ),
            models.CheckConstraint(condition=Q(latency_ms__gte=0), name="conversion_latency_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.fnsku} ({self.marketplace}) → {self.asin or self.status}"

    @property
    def answered(self) -> bool:
        return self.status in self.ANSWERED


class ConversionFeedback(models.Model):
    """A user's word on one of their conversions: the answer was right, or it was this other ASIN."""

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed"
        CORRECTED = "corrected"

    conversion = models.OneToOneField(Conversion, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fnsku_feedback"
    )
    fnsku = models.CharField(max_length=10)
    marketplace = models.CharField(max_length=2)
    asin = models.CharField(max_length=10)
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["fnsku", "marketplace"], name="feedback_fnsku")]

    def __str__(self) -> str:
        return f"{self.fnsku} {self.verdict} {self.asin}"
