"""API input and output of watchlists. Input is only shaped here; services check the values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import currency_exponent
from watchlists.models import Alert, Condition, Interval, ItemSnapshot, WatchItem, Watchlist
from watchlists.selectors import watchlist_cost


class CostSerializer(serializers.Serializer[Any]):
    interval = serializers.ChoiceField(choices=Interval.choices)
    items = serializers.IntegerField()
    refreshes_per_month = serializers.FloatField(help_text="In a 30-day month.")
    credits_per_refresh = serializers.IntegerField(help_text="The lookup's price, per item and refresh.")
    credits_per_month = serializers.IntegerField(help_text="items x refreshes per month x price, rounded up.")


class CostQuerySerializer(serializers.Serializer[Any]):
    interval = serializers.ChoiceField(choices=Interval.choices)
    items = serializers.IntegerField(min_value=0, max_value=1_000_000)


class WatchlistSerializer(serializers.ModelSerializer[Watchlist]):
    item_count = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField()

    class Meta:
        model = Watchlist
        fields = (
            "id",
            "name",
            "interval",
            "item_count",
            "cost",
            "next_refresh_at",
            "last_refreshed_at",
            "created_at",
            "updated_at",
        )

    def get_item_count(self, obj: Watchlist) -> int:
        count = getattr(obj, "item_count", None)
        return int(count) if count is not None else obj.items.count()

    @extend_schema_field(CostSerializer)
    def get_cost(self, obj: Watchlist) -> dict[str, Any]:
        return watchlist_cost(interval=obj.interval, items=self.get_item_count(obj)).as_dict()


class WatchlistInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    interval = serializers.ChoiceField(choices=Interval.choices, default=Interval.DAILY)


class WatchlistPatchSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    interval = serializers.ChoiceField(choices=Interval.choices, required=False)


class ThresholdsSerializer(serializers.Serializer[Any]):
    price_below = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Alert when the price drops below this (marketplace currency).",
    )
    price_above = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Alert when the price rises above this (marketplace currency).",
    )
    buy_box_seller_id = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="Your seller id, for the buy box alerts."
    )
    alert_buy_box_lost = serializers.BooleanField(required=False)
    alert_buy_box_won = serializers.BooleanField(required=False)
    # A PositiveIntegerField's range on every database.
    rank_better_than = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    rank_worse_than = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    alert_back_in_stock = serializers.BooleanField(required=False)
    alert_out_of_stock = serializers.BooleanField(required=False)


class WatchItemInputSerializer(ThresholdsSerializer):
    asin = serializers.CharField(max_length=64)
    marketplace = serializers.CharField(max_length=8, required=False, default="US")


SAMPLE_DATA_HELP = (
    "True when the values are the sandbox provider's made-up sample data, not Amazon's "
    "(false for refreshes recorded before this was kept)."
)


class LatestSerializer(serializers.Serializer[Any]):
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    sales_rank = serializers.IntegerField(allow_null=True)
    in_stock = serializers.BooleanField(allow_null=True)
    buy_box_seller_id = serializers.CharField()
    refreshed_at = serializers.DateTimeField()
    provider = serializers.CharField(help_text="The product data provider of this refresh.")
    sample_data = serializers.BooleanField(help_text=SAMPLE_DATA_HELP)


class WatchItemSerializer(serializers.ModelSerializer[WatchItem]):
    latest = serializers.SerializerMethodField(
        help_text="The latest successful refresh; null before the first."
    )

    class Meta:
        model = WatchItem
        fields = (
            "id",
            "asin",
            "marketplace",
            "price_below",
            "price_above",
            "buy_box_seller_id",
            "alert_buy_box_lost",
            "alert_buy_box_won",
            "rank_better_than",
            "rank_worse_than",
            "alert_back_in_stock",
            "alert_out_of_stock",
            "latest",
            "created_at",
        )

    @extend_schema_field(LatestSerializer(allow_null=True))
    def get_latest(self, obj: WatchItem) -> dict[str, Any] | None:
        refreshed_at = getattr(obj, "last_refreshed_at", None)
        if refreshed_at is None:
            return None
        price = getattr(obj, "last_price", None)
        currency = getattr(obj, "last_currency", "") or ""
        return {
            # Rounded to the currency's minor units: SQLite hands a subquery's decimal back as
            # "21.6400000000000".
            "price": str(_minor_units(price, currency)) if price is not None else None,
            "currency": currency,
            "sales_rank": getattr(obj, "last_rank", None),
            "in_stock": getattr(obj, "last_in_stock", None),
            "buy_box_seller_id": getattr(obj, "last_buy_box_seller_id", "") or "",
            "refreshed_at": refreshed_at.isoformat(),
            "provider": getattr(obj, "last_provider", "") or "",
            "sample_data": bool(getattr(obj, "last_sample_data", False)),
        }


class ItemSnapshotSerializer(serializers.ModelSerializer[ItemSnapshot]):
    class Meta:
        model = ItemSnapshot
        fields = (
            "slot",
            "taken_at",
            "status",
            "price",
            "currency",
            "buy_box_seller_id",
            "sales_rank",
            "in_stock",
            "provider",
            "sample_data",
            "credits",
            "error_code",
            "error_message",
        )
        extra_kwargs = {"sample_data": {"help_text": SAMPLE_DATA_HELP}}


class ImportUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        allow_empty_file=True,
        help_text=(
            "A CSV with a header: `asin`, optional `marketplace` (default US) and optional threshold "
            "columns (price_below, price_above, buy_box_seller_id, alert_buy_box_lost, alert_buy_box_won, "
            "rank_better_than, rank_worse_than, alert_back_in_stock, alert_out_of_stock; flags as 1/0). "
            "At most WATCHLIST_IMPORT_MAX_BYTES (1 MB) and WATCHLIST_MAX_ITEMS rows."
        ),
    )


class ImportRowErrorSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(help_text="The CSV record, header included.")
    asin = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer[Any]):
    added = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Rows of products already in the list: thresholds updated.")
    row_errors = ImportRowErrorSerializer(many=True, help_text="Each row not imported, and why.")
    watchlist = WatchlistSerializer()


class AlertSerializer(serializers.ModelSerializer[Alert]):
    condition = serializers.ChoiceField(choices=Condition.choices)
    read = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = (
            "id",
            "watchlist_name",
            "item",
            "asin",
            "marketplace",
            "condition",
            "crossing",
            "message",
            "observed",
            "threshold",
            "provider",
            "sample_data",
            "created_at",
            "read",
            "read_at",
        )
        extra_kwargs = {
            "sample_data": {
                "help_text": "True when the refresh that raised it saw the sandbox provider's "
                "made-up sample data, not Amazon's."
            }
        }

    def get_read(self, obj: Alert) -> bool:
        return obj.is_read


class AlertsReadInputSerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        max_length=1000,
        help_text="Omit to mark every alert read.",
    )


class AlertsReadSerializer(serializers.Serializer[Any]):
    marked = serializers.IntegerField()


def _minor_units(amount: Decimal, currency: str) -> Decimal:
    return Decimal(amount).quantize(Decimal(1).scaleb(-currency_exponent(currency or "USD")))
