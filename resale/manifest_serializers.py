"""API input and output of manifests."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from jobs.bulk.serializers import BulkJobSerializer
from resale.models import Manifest, ManifestLine


class ManifestUploadInputSerializer(serializers.Serializer[Any]):
    # Empty files are let through: the manifest's own checks explain every problem the same way.
    file = serializers.FileField(
        allow_empty_file=True,
        help_text=(
            "The manifest, CSV (UTF-8 or Windows-1252) or XLSX, at most MANIFEST_MAX_UPLOAD_BYTES (50 MB "
            "by default) and MANIFEST_MAX_LINES lines. Columns are found by name: ASIN, FNSKU, "
            "UPC/EAN/GTIN, Title/Description/Item Description/Product Name, Quantity/Qty/Units, "
            "Unit Retail/Retail Price/MSRP/Unit Price."
        ),
    )
    lot_price = serializers.CharField(max_length=32, help_text='What the whole lot costs, e.g. "1250.00".')
    marketplace = serializers.CharField(max_length=8, required=False, default="US")
    start = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Start it at once (holds the credits); by default the manifest is a draft showing its "
        "cost.",
    )


class ManifestTotalsSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    lot_price = serializers.DecimalField(max_digits=16, decimal_places=2)
    lines = serializers.IntegerField()
    lines_rejected = serializers.IntegerField()
    lines_pending = serializers.IntegerField()
    lines_priced = serializers.IntegerField()
    lines_no_price = serializers.IntegerField()
    lines_fees_unavailable = serializers.IntegerField()
    lines_unresolved = serializers.IntegerField()
    lines_sample = serializers.IntegerField(help_text="Lines priced from sample data (the sandbox).")
    lines_sales_data = serializers.IntegerField(
        help_text="Lines whose provider reported monthly sold or rank drops (never summed: not an "
        "estimate of the lot's sales)."
    )
    units = serializers.IntegerField()
    units_unresolved = serializers.IntegerField()
    resale_value = serializers.DecimalField(max_digits=18, decimal_places=2)
    fees = serializers.DecimalField(max_digits=18, decimal_places=2)
    net = serializers.DecimalField(max_digits=18, decimal_places=2)
    profit = serializers.DecimalField(
        max_digits=18,
        decimal_places=2,
        help_text="At the lot price: the priced lines' profit, less the cost allocated to the others.",
    )
    roi = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="Percent of the lot price."
    )


class ManifestSerializer(serializers.ModelSerializer[Manifest]):
    lines_accepted = serializers.IntegerField(read_only=True)
    cost = serializers.IntegerField(
        read_only=True, help_text="Credits held when it starts: lines x item_price."
    )
    status = serializers.SerializerMethodField(help_text="draft, or the job's status.")
    job = serializers.SerializerMethodField()

    class Meta:
        model = Manifest
        fields = (
            "id",
            "filename",
            "marketplace",
            "currency",
            "lot_price",
            "allocation",
            "encoding",
            "columns",
            "lines_total",
            "lines_accepted",
            "lines_rejected",
            "units_total",
            "item_price",
            "cost",
            "status",
            "job",
            "created_at",
            "started_at",
        )

    def get_status(self, manifest: Manifest) -> str:
        return manifest.job.status if manifest.job is not None else "draft"

    def get_job(self, manifest: Manifest) -> dict[str, Any] | None:
        return BulkJobSerializer(manifest.job).data if manifest.job is not None else None


class ManifestDetailSerializer(ManifestSerializer):
    totals = serializers.SerializerMethodField()

    class Meta(ManifestSerializer.Meta):
        fields = (*ManifestSerializer.Meta.fields, "totals")  # type: ignore[assignment]

    def get_totals(self, manifest: Manifest) -> dict[str, Any]:
        from resale.manifest_selectors import manifest_totals

        return dict(ManifestTotalsSerializer(manifest_totals(manifest=manifest)).data)


class ManifestLineSerializer(serializers.ModelSerializer[ManifestLine]):
    class Meta:
        model = ManifestLine
        fields = (
            "line",
            "status",
            "error",
            "asin_input",
            "fnsku",
            "code",
            "title_input",
            "quantity",
            "unit_retail",
            "allocated_cost",
            "resolved_via",
            "asin",
            "title",
            "confidence",
            "sale_price",
            "fees_unit",
            "net_unit",
            "resale_value",
            "fees_total",
            "net_total",
            "profit",
            "roi",
            "sample_data",
            "fees_source",
            "monthly_sold",
            "rank_drops_30",
            "rank_drops_90",
            "sales_data_source",
            "sales_data_note",
        )
