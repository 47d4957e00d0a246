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


class BulkJob(models.Model):
    """A batch of items (ASINs, later FNSKUs) processed by Celery workers; see products/bulk/.

    The counters are moved in the same transaction as the items they count
    (products/bulk/services.py), so they always equal the items' states:
    ``failed`` includes the ``invalid`` rows, and ``succeeded + failed +
    cancelled`` is the number of items in a final state. Credits: ``credits_held``
    is what the holds took (one hold per run: the first, and each retry),
    ``credits_spent`` what the delivered items used; the rest went back.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    class Source(models.TextChoices):
        LIST = "list", "List (API)"
        CSV = "csv", "CSV upload"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bulk_jobs")
    # A registered kind (products/bulk/kinds.py): asin_lookup, fnsku_conversion, ...
    kind = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    # Kind-specific parameters, e.g. {"marketplace": "US"}.
    params = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    filename = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)

    total = models.PositiveIntegerField(help_text="Items: valid and invalid rows, duplicates folded.")
    invalid = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0, help_text="Rows folded into an earlier one.")
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0, help_text="Items not delivered, invalid rows included.")
    cancelled = models.PositiveIntegerField(default=0)

    item_price = models.PositiveIntegerField(help_text="Credits per delivered item in the current run.")
    credits_held = models.BigIntegerField(default=0)
    credits_spent = models.BigIntegerField(default=0)
    # The open (or last) hold and what the current run spent from it.
    hold = models.ForeignKey(
        "credits.CreditHold", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hold_spent = models.BigIntegerField(default=0)
    run = models.PositiveSmallIntegerField(default=1, help_text="1, then one more for each retry.")
    run_total = models.PositiveIntegerField(default=0, help_text="Items the current run processes.")

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last claim or completion (a job quiet for too long is re-queued), and the
    # last item that reached a final state (a job with none for too long gives up).
    heartbeat_at = models.DateTimeField(default=timezone.now)
    progress_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)
    # When retention deleted the items' results (products/bulk/services.py): the exports are gone.
    results_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="bulkjob_user_time"),
            models.Index(
                fields=["heartbeat_at"], condition=Q(status__in=["queued", "running"]), name="bulkjob_active"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "completed", "failed", "cancelled"]),
                name="bulkjob_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(total__gte=models.F("succeeded") + models.F("failed") + models.F("cancelled")),
                name="bulkjob_counts_within_total",
            ),
            models.CheckConstraint(
                condition=Q(failed__gte=models.F("invalid")), name="bulkjob_invalid_in_failed"
            ),
            models.CheckConstraint(
                condition=Q(
                    credits_spent__gte=0, hold_spent__gte=0, credits_held__gte=models.F("credits_spent")
                ),
                name="bulkjob_spent_within_held",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["completed", "failed", "cancelled"], finished_at__isnull=False)
                | Q(status__in=["queued", "running"], finished_at__isnull=True),
                name="bulkjob_finished_when_final",
            ),
            models.CheckConstraint(
                condition=Q(results_deleted_at__isnull=True)
                | Q(status__in=["completed", "failed", "cancelled"]),
                name="bulkjob_results_deleted_when_final",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="bulkjob_unique_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"Bulk job {self.pk} ({self.kind}, {self.status})"

    @property
    def processed(self) -> int:
        """Items in a final state."""
        return self.succeeded + self.failed + self.cancelled

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class BulkItem(models.Model):
    """One row of a bulk job. Its state is the truth about its work: it is claimed
    by one worker at a time (a token), and only the holder of the claim can
    finish it, once; ``credits`` is set in that same step, so an item is charged
    exactly once however often its chunk is delivered."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Claimed"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        INVALID = "invalid", "Invalid"

    OPEN = (Status.PENDING, Status.CLAIMED)

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    row = models.PositiveIntegerField(help_text="Row of the CSV (header included) or position in the list.")
    input = models.CharField(max_length=255, help_text="As sent, trimmed.")
    value = models.CharField(max_length=64, blank=True, help_text="Normalised input; empty when invalid.")
    # The kind's extra columns of the row (BulkKind.extra_columns), for its processor.
    extra = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Not claimed again before this time (a retry's backoff); null means at once.
    available_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_by = models.CharField(
        max_length=255, blank=True, help_text="The worker (Celery node) holding it."
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    credits = models.PositiveIntegerField(
        default=0, help_text="Credits this item used (delivered items only)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("job", "row")
        indexes = [
            models.Index(fields=["job", "status", "row"], name="bulkitem_job_status_row"),
            models.Index(fields=["claimed_at"], condition=Q(status="claimed"), name="bulkitem_claimed_since"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["job", "row"], name="bulkitem_unique_row"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "claimed", "succeeded", "failed", "cancelled", "invalid"]),
                name="bulkitem_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(credits=0) | Q(status="succeeded"), name="bulkitem_credits_only_when_delivered"
            ),
            models.CheckConstraint(
                condition=~Q(status="claimed") | (~Q(claim_token="") & Q(claimed_at__isnull=False)),
                name="bulkitem_claim_has_token",
            ),
        ]

    def __str__(self) -> str:
        return f"Row {self.row} of bulk job {self.job_id}: {self.input} ({self.status})"
