from typing import Any

from rest_framework import serializers

from credits.models import LedgerEntry, Price


class BalanceSerializer(serializers.Serializer[Any]):
    balance = serializers.IntegerField(help_text="Credits available now.")
    held = serializers.IntegerField(help_text="Credits set aside for running bulk jobs (not in the balance).")
    low_balance_threshold = serializers.IntegerField(
        allow_null=True, help_text="The balance under which the dashboard shows a notice."
    )
    low_balance = serializers.BooleanField(help_text="Whether the balance is under that threshold.")


class LedgerEntrySerializer(serializers.ModelSerializer[LedgerEntry]):
    class Meta:
        model = LedgerEntry
        fields = (
            "id",
            "created_at",
            "kind",
            "amount",
            "balance_after",
            "operation",
            "reference",
            "description",
            "idempotency_key",
            "refund_of",
        )
        read_only_fields = fields


class UsageInputSerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField(
        min_value=1, max_value=366, default=30, help_text="How many days back, today included."
    )


class UsageDaySerializer(serializers.Serializer[Any]):
    date = serializers.DateField()
    total = serializers.IntegerField()
    by_operation = serializers.DictField(child=serializers.IntegerField())


class UsageSerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    total = serializers.IntegerField(help_text="Credits spent over the period (net of refunds).")
    by_operation = serializers.DictField(child=serializers.IntegerField())
    daily = UsageDaySerializer(many=True)


class PriceSerializer(serializers.ModelSerializer[Price]):
    class Meta:
        model = Price
        fields = ("operation", "credits", "description")
        read_only_fields = fields
