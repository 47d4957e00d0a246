from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Product(models.Model):
    """The latest record of one product in one marketplace (the store behind the cache)."""

    asin = models.CharField(max_length=10)
    marketplace = models.CharField(max_length=2)
    title = models.CharField(max_length=500, blank=True)
    brand = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=20)
    sample_data = models.BooleanField(default=False)
    # ProductRecord.to_dict(): exactly what the API serves.
    record = models.JSONField()
    fetched_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["asin", "marketplace"], name="product_unique_asin_marketplace"),
        ]

    def __str__(self) -> str:
        return f"{self.asin} ({self.marketplace})"


class ProductSnapshot(models.Model):
    """Price and rank of a product at one fetch: the history behind charts and alerts."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="snapshots")
    fetched_at = models.DateTimeField()
    provider = models.CharField(max_length=20)
    currency = models.CharField(max_length=3, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    buy_box_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    sales_rank = models.PositiveIntegerField(null=True, blank=True)
    offer_count = models.PositiveIntegerField(null=True, blank=True)
    rating = models.FloatField(null=True, blank=True)
    review_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["product", "-fetched_at"], name="snapshot_product_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "fetched_at", "provider"], name="snapshot_unique_fetch"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} at {self.fetched_at:%Y-%m-%d %H:%M}"


class LookupLog(models.Model):
    """One lookup: who asked for what, where it came from, how long it took, what it cost."""

    class Source(models.TextChoices):
        CACHE = "cache"
        DATABASE = "database"
        UPSTREAM = "upstream"
        NONE = "none"

    class Outcome(models.TextChoices):
        OK = "ok"
        NOT_FOUND = "not_found"
        UNAVAILABLE = "unavailable"
        INSUFFICIENT_CREDITS = "insufficient_credits"

    class Channel(models.TextChoices):
        API = "api"
        PAGE = "page"
        BULK = "bulk"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lookups")
    asin = models.CharField(max_length=10)
    marketplace = models.CharField(max_length=2)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    credits = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="lookuplog_user_time"),
            models.Index(fields=["created_at"], name="lookuplog_time"),
        ]
        constraints = [models.CheckConstraint(condition=Q(latency_ms__gte=0), name="lookuplog_latency_gte_0")]

    def __str__(self) -> str:
        return f"{self.asin} ({self.marketplace}) {self.outcome}"
