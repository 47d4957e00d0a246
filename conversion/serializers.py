"""API input and the documented shape of a conversion (conversion/convert.py ``conversion_body``)."""

from typing import Any

from rest_framework import serializers

from conversion.models import FnskuMapping
from jobs.bulk.serializers import BulkValueListField

CONVERSION_STATUSES = ["resolved", "ambiguous", "not_found", "unavailable", "insufficient_credits"]


class ConvertInputSerializer(serializers.Serializer[Any]):
    fnsku = serializers.CharField(
        max_length=64,
        trim_whitespace=False,
        help_text="10 letters and digits (X00... label codes; B0... stickerless units); trimmed, any case.",
    )
    marketplace = serializers.CharField(
        max_length=8, required=False, default="US", help_text="US, UK, DE, ..."
    )
    label_text = serializers.CharField(
        max_length=1000,
        required=False,
        default="",
        allow_blank=True,
        help_text="The product name printed on the label (often truncated, with a condition word "
        "such as New).",
    )


class CandidateSerializer(serializers.Serializer[Any]):
    asin = serializers.CharField()
    title = serializers.CharField(allow_null=True)
    image = serializers.CharField(allow_null=True)
    score = serializers.FloatField(
        help_text="The model's probability, 0 to 1, that this candidate is the FNSKU's ASIN "
        "(the page shows it as a percent)."
    )
    label_similarity = serializers.FloatField(
        allow_null=True,
        help_text="How well the label text matches the title, 0 to 1 (null without label text).",
    )
    sources = serializers.ListField(child=serializers.CharField())


class EvidenceSerializer(serializers.Serializer[Any]):
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="stickerless, fba_inventory, inventory_report, confirmed, community, learned, "
        "catalog_search, mapping_store, product_data"
    )
    asin = serializers.CharField(
        allow_null=True, help_text="The ASIN this source named; null: it found nothing."
    )
    detail = serializers.CharField(help_text="What the source said, in plain words.")
    weight = serializers.FloatField(help_text="The prior weight of this kind of statement, 0 to 1.")
    seen_at = serializers.DateTimeField(allow_null=True)


class ConversionOutputSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="The conversion's id, for feedback.")
    fnsku = serializers.CharField()
    marketplace = serializers.CharField()
    label_text = serializers.CharField(allow_blank=True)
    asin = serializers.CharField(allow_null=True)
    title = serializers.CharField(allow_null=True)
    image = serializers.CharField(allow_null=True)
    confidence = serializers.FloatField(
        allow_null=True,
        help_text="0 to 1, calibrated: among answers given with confidence about 0.9, about 9 in 10 are "
        "right. 1.0 only for a B0 code (a stickerless unit's ASIN) that the product data lists.",
    )
    status = serializers.ChoiceField(
        choices=CONVERSION_STATUSES,
        help_text="resolved: confidence at least CONVERSION_RESOLVED_CONFIDENCE (0.9); ambiguous: the best "
        "guess, check the candidates.",
    )
    candidates = CandidateSerializer(many=True)
    evidence = EvidenceSerializer(many=True)
    provider = serializers.CharField(
        allow_null=True,
        help_text="The product data provider whose record or search named the answer "
        "(null when none did, e.g. your own inventory report).",
    )
    sample_data = serializers.BooleanField(
        help_text="True when the answer's product data is the sandbox provider's made-up sample data, "
        "not Amazon's."
    )
    credits_charged = serializers.IntegerField(help_text="What the conversion cost when it was made.")
    credits_remaining = serializers.IntegerField(allow_null=True)
    charged = serializers.BooleanField(
        help_text="Whether this request was charged: false for a retry with the same Idempotency-Key "
        "and for a rescan answered from an earlier conversion (see replayed_from)."
    )
    replayed_from = serializers.IntegerField(
        allow_null=True,
        help_text="A rescan of the same FNSKU, label text and marketplace within 24 hours answers from "
        "that earlier conversion (this id, also `id`) without charging again; null otherwise.",
    )
    created_at = serializers.DateTimeField(help_text="When the conversion was made.")


class ConvertLabelInputSerializer(serializers.Serializer[Any]):
    image = serializers.FileField(
        help_text="A photo of the FBA label (JPEG, PNG, WebP, HEIC/HEIF, GIF, BMP or TIFF; at "
        "most CONVERSION_LABEL_MAX_BYTES, 8 MB by default): its Code 128 barcode gives the FNSKU, "
        "its printed text the title and condition."
    )
    marketplace = serializers.CharField(
        max_length=8, required=False, default="US", help_text="US, UK, DE, ..."
    )


class LabelReadingSerializer(serializers.Serializer[Any]):
    fnsku = serializers.CharField(help_text="From the barcode, exact.")
    title = serializers.CharField(
        allow_blank=True, help_text="The printed title as read (the conversion's label text); may be empty."
    )
    condition = serializers.CharField(
        allow_blank=True, help_text="New, Used - Like New, ... as printed; empty when not read."
    )


class ConversionLabelOutputSerializer(ConversionOutputSerializer):
    read = LabelReadingSerializer(help_text="What was read from the photo.")


class FeedbackInputSerializer(serializers.Serializer[Any]):
    asin = serializers.CharField(
        max_length=64, help_text="The unit's real ASIN: the answer's to confirm it, another to correct it."
    )


class FeedbackOutputSerializer(serializers.Serializer[Any]):
    conversion_id = serializers.IntegerField()
    asin = serializers.CharField()
    verdict = serializers.ChoiceField(choices=["confirmed", "corrected"])


class MappingImportInputSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text="An Amazon inventory report: CSV or tab-separated, with fnsku and asin."
    )
    marketplace = serializers.CharField(max_length=8, required=False, default="US")


class ImportErrorSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    message = serializers.CharField()


class MappingImportOutputSerializer(serializers.Serializer[Any]):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    error_count = serializers.IntegerField()
    errors = ImportErrorSerializer(  # type: ignore[assignment]
        many=True, help_text="The first 50 lines refused, with the reason."
    )


class MappingSerializer(serializers.ModelSerializer[FnskuMapping]):
    class Meta:
        model = FnskuMapping
        fields = (
            "fnsku",
            "marketplace",
            "asin",
            "source",
            "seller_sku",
            "title",
            "first_seen",
            "last_seen",
            "times_seen",
            "times_confirmed",
        )
        read_only_fields = fields


class SpApiConnectionInputSerializer(serializers.Serializer[Any]):
    selling_partner_id = serializers.CharField(max_length=64)
    refresh_token = serializers.CharField(max_length=2100, write_only=True, trim_whitespace=True)


class SpApiConnectionOutputSerializer(serializers.Serializer[Any]):
    selling_partner_id = serializers.CharField()
    token_hint = serializers.CharField(
        help_text="The refresh token's last characters; the token is never shown."
    )
    is_active = serializers.BooleanField()
    last_error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SyncInputSerializer(serializers.Serializer[Any]):
    marketplace = serializers.CharField(max_length=8, required=False, default="US")


class ConversionBulkInputSerializer(serializers.Serializer[Any]):
    fnskus = BulkValueListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        allow_empty=True,
        help_text="FNSKUs to convert (at most BULK_MAX_ROWS); invalid ones are reported per item, uncharged.",
    )
    marketplace = serializers.CharField(max_length=8, required=False, default="US")


class ConversionBulkUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        allow_empty_file=True,
        help_text=(
            "A CSV with the FNSKU in a column named `fnsku` (or the first column) and an optional "
            "`label_text` column with the printed product name."
        ),
    )
    marketplace = serializers.CharField(max_length=8, required=False, default="US")
