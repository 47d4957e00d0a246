"""API input and output of scheduled collections."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.bulk.serializers import BulkValueListField
from jobs.collections.services import collection_cost
from jobs.models import BulkJob, Collection, CollectionKind, CollectionRun, Schedule

API = "/api/v1/collections"


class CollectionFieldsSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(
        choices=CollectionKind.choices,
        default=CollectionKind.ASIN,
        help_text="`asin_lookup` (product data per ASIN) or `fnsku_conversion` (the ASIN of each FNSKU).",
    )
    marketplace = serializers.CharField(max_length=8, default="US", help_text="US, CA, MX, UK, DE, ...")
    schedule = serializers.ChoiceField(
        choices=Schedule.choices,
        default=Schedule.DAILY,
        help_text="hourly, daily, weekly, monthly (from the time it is set), or on_demand (run now only).",
    )
    items = BulkValueListField(
        child=serializers.CharField(allow_blank=True, max_length=255),
        help_text=(
            "ASINs or FNSKUs (by kind), at most BULK_MAX_ROWS; all must be valid (a 400 lists the "
            "invalid ones); duplicates are folded; blank entries are ignored."
        ),
    )


class CollectionCreateSerializer(CollectionFieldsSerializer):
    dry_run = serializers.BooleanField(
        default=False,
        help_text="Check the input and answer the cost of one run (200) without saving anything.",
    )


class CollectionPatchSerializer(CollectionFieldsSerializer):
    """Every field optional: only what is sent changes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


class RunCostSerializer(serializers.Serializer[Any]):
    items = serializers.IntegerField(help_text="Items in the collection.")
    price = serializers.IntegerField(help_text="Credits per delivered item (the kind's price).")
    total = serializers.IntegerField(
        help_text="Credits one run holds up front: items times price. Items not delivered are given back."
    )
    operation = serializers.CharField(help_text="The priced operation.")


class CollectionPreviewSerializer(serializers.Serializer[Any]):
    """The answer to a ``dry_run``: what would be saved, and what one run costs."""

    name = serializers.CharField()
    kind = serializers.CharField()
    marketplace = serializers.CharField()
    schedule = serializers.CharField()
    items = serializers.ListField(child=serializers.CharField(), help_text="Normalised, duplicates folded.")
    cost_per_run = RunCostSerializer()


class CollectionLinksSerializer(serializers.Serializer[Any]):
    self = serializers.CharField()
    run = serializers.CharField()
    runs = serializers.CharField()


class CollectionSerializer(serializers.ModelSerializer[Collection]):
    cost_per_run = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Collection
        fields: tuple[str, ...] = (
            "id",
            "name",
            "kind",
            "marketplace",
            "schedule",
            "item_count",
            "cost_per_run",
            "next_run_at",
            "created_at",
            "updated_at",
            "links",
        )
        read_only_fields = fields
        extra_kwargs = {"next_run_at": {"help_text": "When the next scheduled run starts (null: on demand)."}}

    @extend_schema_field(RunCostSerializer)
    def get_cost_per_run(self, collection: Collection) -> dict[str, Any]:
        cost = collection_cost(kind=collection.kind, items=collection.item_count)
        return {"items": cost.items, "price": cost.price, "total": cost.total, "operation": cost.operation}

    @extend_schema_field(CollectionLinksSerializer)
    def get_links(self, collection: Collection) -> dict[str, str]:
        base = f"{API}/{collection.pk}"
        return {"self": base, "run": f"{base}/run", "runs": f"{base}/runs"}


class CollectionDetailSerializer(CollectionSerializer):
    class Meta(CollectionSerializer.Meta):
        fields = (*CollectionSerializer.Meta.fields, "items")
        read_only_fields = fields


class RunJobSerializer(serializers.ModelSerializer[BulkJob]):
    class Meta:
        model = BulkJob
        fields = (
            "id",
            "status",
            "total",
            "succeeded",
            "failed",
            "credits_held",
            "credits_spent",
            "finished_at",
        )
        read_only_fields = fields


class RunLinksSerializer(serializers.Serializer[Any]):
    job = serializers.CharField(allow_null=True, help_text="The bulk job: progress, cancel, retry.")
    results_csv = serializers.CharField(allow_null=True)
    results_json = serializers.CharField(allow_null=True)


class CollectionRunSerializer(serializers.ModelSerializer[CollectionRun]):
    job = RunJobSerializer(allow_null=True, read_only=True)
    results_available = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = CollectionRun
        fields = (
            "id",
            "slot",
            "trigger",
            "status",
            "reason_code",
            "reason",
            "items",
            "cost",
            "job",
            "results_available",
            "results_deleted_at",
            "created_at",
            "started_at",
            "links",
        )
        read_only_fields = fields
        extra_kwargs = {
            "status": {
                "help_text": "pending (starting), started (see `job` for its progress) or skipped (see "
                "`reason`: nothing was created or charged)."
            },
            "reason_code": {
                "help_text": "Why it was skipped: insufficient_credits, previous_run_active, ..."
            },
            "results_deleted_at": {
                "help_text": "When the results were deleted (COLLECTION_RESULTS_RETENTION_DAYS after a run)."
            },
        }

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_results_available(self, run: CollectionRun) -> bool:
        return run.job_id is not None and run.results_deleted_at is None

    @extend_schema_field(RunLinksSerializer)
    def get_links(self, run: CollectionRun) -> dict[str, str | None]:
        results = f"{API}/{run.collection_id}/runs/{run.pk}/results"
        available = self.get_results_available(run)
        return {
            "job": f"/api/v1/products/bulk/{run.job_id}" if run.job_id else None,
            "results_csv": f"{results}?format=csv" if available else None,
            "results_json": f"{results}?format=json" if available else None,
        }
