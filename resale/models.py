"""A seller's saved resale defaults: the costs besides the buy price, used by every profit figure."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ResaleDefaults(models.Model):
    """One row per user (none: every cost 0, not VAT-registered, no target ROI). Amounts are in
    the currency of the marketplace a calculation is for."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="resale_defaults"
    )
    inbound_per_unit = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    inbound_per_kg = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    prep_per_unit = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    vat_registered = models.BooleanField(default=False)
    target_roi_percent = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "resale defaults"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(inbound_per_unit__gte=0)
                & models.Q(inbound_per_kg__gte=0)
                & models.Q(prep_per_unit__gte=0),
                name="resale_defaults_costs_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(target_roi_percent__isnull=True) | models.Q(target_roi_percent__gte=0),
                name="resale_defaults_target_roi_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"resale defaults of user {self.user_id}"


# --- Liquidation manifests --------------------------------------------------------------------------
# A manifest's lines are kept here, not only as the bulk job's item results: the manifest page sorts
# and totals them in the database (profit, ROI, resale value are columns, not keys of a JSON
# result), the rejected lines are kept with their reason though they never become items worth
# processing, and a manifest outlives its job's result retention. The job (jobs.BulkJob) holds the
# truth about the work and the credits; a line's results are written once its item is final.


class Manifest(models.Model):
    class Allocation(models.TextChoices):
        RETAIL = "retail", "By unit retail share"
        UNITS = "units", "By units"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="manifests")
    filename = models.CharField(max_length=255, blank=True)
    marketplace = models.CharField(max_length=8)
    currency = models.CharField(max_length=3)
    lot_price = models.DecimalField(max_digits=14, decimal_places=2)
    allocation = models.CharField(max_length=8, choices=Allocation.choices)
    encoding = models.CharField(max_length=16, help_text="utf-8, utf-8-sig, cp1252 or xlsx.")
    columns = models.JSONField(default=dict, help_text="Each role's column as named in the file.")
    lines_total = models.PositiveIntegerField(default=0)
    lines_rejected = models.PositiveIntegerField(default=0)
    units_total = models.PositiveBigIntegerField(default=0)
    item_price = models.PositiveIntegerField(help_text="Credits per line, when the manifest was read.")
    job = models.OneToOneField(
        "jobs.BulkJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="manifest"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(lot_price__gte=0), name="resale_manifest_lot_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Manifest {self.pk} ({self.filename or 'upload'})"

    @property
    def lines_accepted(self) -> int:
        return self.lines_total - self.lines_rejected

    @property
    def cost(self) -> int:
        """Credits the run holds: accepted lines x the price per line."""
        return self.lines_accepted * self.item_price


class ManifestLine(models.Model):
    class Status(models.TextChoices):
        REJECTED = "rejected", "Rejected"  # bad input: never an item, never charged
        PENDING = "pending", "Pending"
        PRICED = "priced", "Priced"
        NO_PRICE = "no_price", "No price"
        FEES_UNAVAILABLE = "fees_unavailable", "Fees unavailable"
        UNRESOLVED = "unresolved", "Unresolved"  # no product found: not charged

    class Via(models.TextChoices):
        ASIN = "asin", "ASIN"
        CODE = "code", "UPC/EAN"
        FNSKU = "fnsku", "FNSKU"
        TITLE = "title", "Title search"

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="lines")
    line = models.PositiveIntegerField(help_text="The row in the file.")
    asin_input = models.CharField(max_length=64, blank=True)
    fnsku = models.CharField(max_length=64, blank=True)
    code = models.CharField(max_length=64, blank=True)
    title_input = models.CharField(max_length=500, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_retail = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    allocated_cost = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True)
    # Results (set once the line's item is final).
    resolved_via = models.CharField(max_length=8, choices=Via.choices, blank=True)
    asin = models.CharField(max_length=10, blank=True)
    title = models.CharField(max_length=500, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    sale_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    fees_unit = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    net_unit = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    resale_value = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    fees_total = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    net_total = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    profit = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    roi = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    sample_data = models.BooleanField(default=False)
    fees_source = models.CharField(max_length=32, blank=True)
    # Sales velocity as the product record's provider reports it (its ``sales_velocity``), never an
    # estimate of ours: None is "not reported", never 0. Columns, not keys of a JSON result, so the
    # lines sort by them in the database like the money columns.
    monthly_sold = models.PositiveIntegerField(
        null=True, blank=True, help_text='Bought in the past month as Amazon shows it ("1K+"): a lower bound.'
    )
    rank_drops_30 = models.PositiveIntegerField(
        null=True, blank=True, help_text="Sales rank drops in the last 30 days (each counted as a sale)."
    )
    rank_drops_90 = models.PositiveIntegerField(
        null=True, blank=True, help_text="Sales rank drops in the last 90 days."
    )
    sales_data_source = models.CharField(
        max_length=32, blank=True, help_text="The provider reporting the figures (keepa, spapi, sandbox)."
    )
    sales_data_note = models.CharField(
        max_length=200, blank=True, help_text='Why there are none at all ("not available from SP-API").'
    )

    class Meta:
        ordering = ("manifest", "line")
        constraints = [
            models.UniqueConstraint(fields=("manifest", "line"), name="resale_manifest_line_unique"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="resale_manifest_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["rejected", "pending", "priced", "no_price", "fees_unavailable", "unresolved"]
                ),
                name="resale_manifest_line_status_valid",
            ),
        ]
        indexes = [models.Index(fields=("manifest", "status"), name="resale_line_manifest_status")]

    def __str__(self) -> str:
        return f"Line {self.line} of manifest {self.manifest_id}"

    @property
    def identifier(self) -> str:
        return self.asin_input or self.fnsku or self.code or self.title_input[:80]

    @property
    def sales_data_label(self) -> str:
        """The sales figures' source as the lookup page names it ("Keepa"), with ", sample" when
        that provider makes sample data up (the sandbox); "" when the line has none."""
        from products.providers import PROVIDERS

        provider = PROVIDERS.get(self.sales_data_source)
        if provider is None:
            return self.sales_data_source
        return f"{provider.label}, sample" if provider.sample_data else provider.label
