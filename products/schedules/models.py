"""Scheduled collections and their runs.

A run is unique per (collection, slot): the beat tick that claims a slot
inserts the row, so two ticks, or a task delivered twice, never start the same
slot twice. At most one run of a collection is pending (claimed, its job not
created yet), so two runs never start side by side. The run's bulk job is created with the idempotency key
``collection-run:<run id>``, so a start retried after a crash finds the job
instead of making a second one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Schedule(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    ON_DEMAND = "on_demand", "On demand"


class CollectionKind(models.TextChoices):
    # Names of bulk job kinds (products/bulk/kinds.py).
    ASIN = "asin_lookup", "ASINs (product data)"
    FNSKU = "fnsku_conversion", "FNSKUs (conversion to ASIN)"


class Collection(models.Model):
    """A saved list of ASINs (or FNSKUs) of one marketplace, run as a bulk job on a schedule.

    ``items`` are normalised and distinct. ``next_run_at`` is the next slot
    (empty when on demand); slots are ``schedule_anchor`` plus whole periods."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=40, choices=CollectionKind.choices, default=CollectionKind.ASIN)
    marketplace = models.CharField(max_length=8, default="US")
    items = models.JSONField(default=list)
    item_count = models.PositiveIntegerField(default=0)
    schedule = models.CharField(max_length=12, choices=Schedule.choices, default=Schedule.DAILY)
    schedule_anchor = models.DateTimeField(default=timezone.now)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "id")
        indexes = [
            models.Index(
                fields=["next_run_at"], condition=Q(next_run_at__isnull=False), name="collection_due"
            ),
            models.Index(fields=["user", "name"], name="collection_user_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(schedule="on_demand", next_run_at__isnull=True) | ~Q(schedule="on_demand"),
                name="collection_on_demand_not_scheduled",
            ),
            models.CheckConstraint(
                condition=Q(schedule__in=[s.value for s in Schedule]), name="collection_schedule_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CollectionRun(models.Model):
    """One run of a collection: the slot it was started for, and its bulk job (or why it was skipped)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # slot claimed, the job not created yet
        STARTED = "started", "Started"  # the bulk job exists; its own status tells the rest
        SKIPPED = "skipped", "Skipped"  # not started (``reason``): nothing created, nothing charged

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Run now"

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="runs")
    slot = models.DateTimeField(
        help_text="The scheduled time this run is for (for run now: when it was asked)."
    )
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason_code = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    items = models.PositiveIntegerField(help_text="Items in the collection when the run was claimed.")
    cost = models.BigIntegerField(help_text="Credits one run costs at most: items times the price.")
    job = models.ForeignKey(
        "products.BulkJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    results_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-slot", "-id")
        indexes = [
            models.Index(fields=["collection", "-slot"], name="collectionrun_history"),
            models.Index(
                fields=["created_at"],
                condition=Q(job__isnull=False, results_deleted_at__isnull=True),
                name="collectionrun_kept_results",
            ),
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="collectionrun_pending"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["collection", "slot"], name="collectionrun_unique_slot"),
            # One run of a collection is started at a time: a run inserted while another is
            # pending cannot both pass the "previous run active" check of the start.
            models.UniqueConstraint(
                fields=["collection"], condition=Q(status="pending"), name="collectionrun_one_pending"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "started", "skipped"]), name="collectionrun_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="skipped") | Q(job__isnull=True), name="collectionrun_skipped_no_job"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.collection_id} @ {self.slot:%Y-%m-%d %H:%M}"
