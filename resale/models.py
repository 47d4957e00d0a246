"""A seller's saved resale defaults: the costs besides the buy price, used by every profit figure."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models


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
