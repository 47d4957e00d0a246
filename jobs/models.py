"""The bulk engine's and the scheduled collections' data.

Bulk jobs and their items (``jobs/bulk/``); scheduled collections and their runs
(``jobs/collections/``). The tables keep the names they had before the models
moved here (``products_bulkjob``, ``products_bulkitem``, ``schedules_collection``,
``schedules_collectionrun``: ``db_table`` below, and jobs/migrations/0001_initial.py
moved them by state only), so a database migrated before the move works after it.

Collections: a run is unique per (collection, slot): the beat tick that claims a slot
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


class BulkJob(models.Model):
    """A batch of items (ASINs, later FNSKUs) processed by Celery workers; see jobs/bulk/.

    The counters are moved in the same transaction as the items they count
    (jobs/bulk/services.py), so they always equal the items' states:
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
    # A registered kind (jobs/bulk/kinds.py): asin_lookup, fnsku_conversion, ...
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
    # When retention deleted the items' results (jobs/bulk/services.py): the exports are gone.
    results_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "products_bulkjob"  # the table's name before the move (see the top)
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
        db_table = "products_bulkitem"  # the table's name before the move (see the top)
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


class Schedule(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    ON_DEMAND = "on_demand", "On demand"


class CollectionKind(models.TextChoices):
    # Names of bulk job kinds (jobs/bulk/kinds.py).
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
        db_table = "schedules_collection"  # the table's name before the move (see the top)
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
    job = models.ForeignKey(BulkJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    results_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "schedules_collectionrun"  # the table's name before the move (see the top)
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
