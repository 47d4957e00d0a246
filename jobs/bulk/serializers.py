"""API input and output of bulk jobs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.bulk.asin_lookup import ASIN_LOOKUP
from jobs.bulk.conf import bulk_settings
from jobs.bulk.kinds import bulk_kinds_offered
from jobs.bulk.selectors import bulk_job_progress
from jobs.bulk.uploads import upload_error
from jobs.models import BulkItem, BulkJob


class BulkValueListField(serializers.ListField):
    """A list whose length is checked against BULK_MAX_ROWS before its entries are."""

    def to_internal_value(self, data: Any) -> list[Any]:
        limit = bulk_settings().max_rows
        if isinstance(data, list) and len(data) > limit:
            raise upload_error(
                "too_many_rows",
                f"The list has more than {limit:,} entries; the limit is {limit:,}.",
                max_rows=limit,
            )
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.STR)
class BulkKindField(serializers.ChoiceField):
    """The kind of job among ``base`` and the kinds other apps offer with it; its choices are read
    from the registry each time a serializer is made (other apps register theirs at start-up), so
    the schema states them in the description rather than as a fixed enum."""

    def __init__(self, *, base: str, **kwargs: Any) -> None:
        kinds = bulk_kinds_offered(base)
        described = "; ".join(
            f"`{kind.name}`: {kind.label}" + (f" ({kind.description})" if kind.description else "")
            for kind in kinds
        )
        kwargs.setdefault("help_text", f"What each item's result holds. {described}.")
        super().__init__(choices=[kind.name for kind in kinds], required=False, default=base, **kwargs)


class BulkJobCreateInputSerializer(serializers.Serializer[Any]):
    asins = BulkValueListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        allow_empty=True,
        help_text=(
            "ASINs to look up, at most BULK_MAX_ROWS (10,000 by default). Invalid ones are reported "
            "per item and not charged; duplicates are folded; blank entries are ignored."
        ),
    )
    marketplace = serializers.CharField(
        max_length=8, required=False, default="US", help_text="US, CA, MX, BR, UK, DE, FR, IT, ES, JP, ..."
    )
    kind = BulkKindField(base=ASIN_LOOKUP)


class BulkJobUploadInputSerializer(serializers.Serializer[Any]):
    # Empty files are let through: the upload's own checks explain every problem the same way.
    file = serializers.FileField(
        allow_empty_file=True,
        help_text=(
            "A CSV file (at most BULK_MAX_UPLOAD_BYTES, 5 MB by default, and BULK_MAX_ROWS rows): the "
            "ASIN in a column named `asin` or else the first column, with or without a header; comma, "
            "semicolon or tab separated; UTF-8, UTF-16 or Windows-1252."
        ),
    )
    marketplace = serializers.CharField(max_length=8, required=False, default="US")
    kind = BulkKindField(base=ASIN_LOOKUP)


class BulkJobProgressSerializer(serializers.Serializer[Any]):
    percent = serializers.IntegerField()
    remaining = serializers.IntegerField()
    items_per_minute = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Estimated time left: at the pace so far, and never less than the wait for the last "
        "retry scheduled. Null while it cannot be estimated yet (no item of the run finished) and once "
        "the job is final.",
    )
    retrying = serializers.IntegerField(
        help_text="Items being retried after an error (waiting for their next attempt, or in it)."
    )
    next_retry_seconds = serializers.FloatField(
        allow_null=True, help_text="Seconds until the next of those is tried again; null when none waits."
    )


class BulkJobLinksSerializer(serializers.Serializer[Any]):
    self = serializers.CharField()
    results_csv = serializers.CharField()
    results_json = serializers.CharField()
    cancel = serializers.CharField()
    retry = serializers.CharField()


class BulkJobSerializer(serializers.ModelSerializer[BulkJob]):
    processed = serializers.IntegerField(help_text="Items in a final state: succeeded + failed + cancelled.")
    marketplace = serializers.SerializerMethodField()
    credits_reserved = serializers.SerializerMethodField(help_text="Still held for items not processed yet.")
    credits_released = serializers.SerializerMethodField(help_text="Held, not used, and given back.")
    progress = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = BulkJob
        fields: tuple[str, ...] = (
            "id",
            "kind",
            "status",
            "marketplace",
            "source",
            "filename",
            "total",
            "processed",
            "succeeded",
            "failed",
            "invalid",
            "cancelled",
            "duplicates",
            "item_price",
            "credits_held",
            "credits_spent",
            "credits_reserved",
            "credits_released",
            "run",
            "progress",
            "created_at",
            "started_at",
            "finished_at",
            "results_deleted_at",
            "links",
        )
        read_only_fields: tuple[str, ...] = fields
        extra_kwargs = {
            "status": {"help_text": "queued, running, completed, failed (nothing delivered) or cancelled."},
            "total": {"help_text": "Items: valid and invalid rows, duplicates folded."},
            "failed": {"help_text": "Items not delivered, invalid rows included."},
            "credits_held": {"help_text": "Credits set aside for the valid items (every run)."},
            "credits_spent": {"help_text": "Credits the delivered items used."},
            "results_deleted_at": {
                "help_text": "When the results were removed (retention); from then on the results "
                "downloads answer 410 and the job cannot be retried. Null while they are kept."
            },
        }

    @extend_schema_field(OpenApiTypes.STR)
    def get_marketplace(self, job: BulkJob) -> str | None:
        value = job.params.get("marketplace")
        return str(value) if value else None

    @extend_schema_field(OpenApiTypes.INT)
    def get_credits_reserved(self, job: BulkJob) -> int:
        if job.is_final or job.hold is None:
            return 0
        return max(0, job.hold.amount - job.hold_spent)

    @extend_schema_field(OpenApiTypes.INT)
    def get_credits_released(self, job: BulkJob) -> int:
        return job.credits_held - job.credits_spent - self.get_credits_reserved(job)

    @extend_schema_field(BulkJobProgressSerializer)
    def get_progress(self, job: BulkJob) -> dict[str, Any]:
        progress = bulk_job_progress(job=job)
        return {
            "percent": progress.percent,
            "remaining": progress.remaining,
            "items_per_minute": round(progress.items_per_minute, 1) if progress.items_per_minute else None,
            "eta_seconds": round(progress.eta_seconds, 1) if progress.eta_seconds is not None else None,
            "retrying": progress.retrying,
            "next_retry_seconds": (
                round(progress.next_retry_seconds, 1) if progress.next_retry_seconds is not None else None
            ),
        }

    @extend_schema_field(BulkJobLinksSerializer)
    def get_links(self, job: BulkJob) -> dict[str, str]:
        base = f"/api/v1/products/bulk/{job.pk}"
        return {
            "self": base,
            "results_csv": f"{base}/results?format=csv",
            "results_json": f"{base}/results?format=json",
            "cancel": f"{base}/cancel",
            "retry": f"{base}/retry",
        }


class BulkItemErrorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()


class BulkItemResultSerializer(serializers.Serializer[Any]):
    """One item of ``GET /bulk/{id}/results?format=json`` (in its ``results`` array, streamed)."""

    row = serializers.IntegerField(help_text="Row of the CSV (header included) or position in the list.")
    input = serializers.CharField(help_text="The value as sent.")
    value = serializers.CharField(help_text="The normalised value (the ASIN); empty when invalid.")
    status = serializers.ChoiceField(choices=BulkItem.Status.choices)
    attempts = serializers.IntegerField()
    credits = serializers.IntegerField(help_text="Credits used: the item price when delivered, else 0.")
    error = BulkItemErrorSerializer(allow_null=True)
    result = serializers.JSONField(
        allow_null=True, help_text="The delivered result: for asin_lookup jobs, the product record."
    )


class BulkJobSummarySerializer(BulkJobSerializer):
    """The job at the head of its JSON results: as ``GET /bulk/{id}`` gives it, with its parameters."""

    params = serializers.DictField(
        read_only=True,
        help_text='The kind\'s parameters the job was created with, e.g. {"marketplace": "US"}.',
    )

    class Meta(BulkJobSerializer.Meta):
        fields = (*BulkJobSerializer.Meta.fields, "params")
        read_only_fields = fields


class BulkJobResultsSerializer(serializers.Serializer[Any]):
    """``GET /bulk/{id}/results?format=json``: the job's summary, then its items (streamed)."""

    job = BulkJobSummarySerializer(
        help_text="The job when the download started: its state, counts and credits."
    )
    results = BulkItemResultSerializer(many=True, help_text="Every item of the job, in row order.")
