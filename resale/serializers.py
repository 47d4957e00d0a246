"""API input and output of resale. Input is only shaped here; services check the values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from resale.fees import FeeQuote
from resale.profit import STATUSES, ResaleCosts
from resale.services import ProfitAnswer


def _names(serializer_class: type[serializers.Serializer[Any]]) -> list[str]:
    """The serializer's field names, in order: the answer is built in the documented shape."""
    return [str(name) for name in serializer_class().fields.keys()]  # noqa: SIM118 - typed keys


class DefaultsSerializer(serializers.Serializer[Any]):
    inbound_per_unit = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        help_text="Inbound shipping per unit, marketplace currency.",
    )
    inbound_per_kg = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        help_text="Inbound shipping per kg of the package weight.",
    )
    prep_per_unit = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    vat_registered = serializers.BooleanField(
        help_text="EU/UK marketplaces: output VAT is owed, input VAT on costs and fees reclaimed."
    )
    target_roi_percent = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=0, allow_null=True
    )


class DefaultsInputSerializer(DefaultsSerializer):
    """PUT: every field optional; the ones given replace the saved ones."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


def _cents(value: Decimal | None) -> str | None:
    return str(value.quantize(Decimal("0.01"))) if value is not None else None


def defaults_data(costs: ResaleCosts) -> dict[str, Any]:
    return {
        "inbound_per_unit": _cents(costs.inbound_per_unit),
        "inbound_per_kg": _cents(costs.inbound_per_kg),
        "prep_per_unit": _cents(costs.prep_per_unit),
        "vat_registered": costs.vat_registered,
        "target_roi_percent": _cents(costs.target_roi_percent),
    }


class ProfitInputSerializer(serializers.Serializer[Any]):
    asin = serializers.CharField()
    marketplace = serializers.CharField(default="US")
    cost = serializers.CharField(
        help_text="Buy cost per unit, in the marketplace's currency (a decimal string)."
    )
    quantity = serializers.IntegerField(default=1, min_value=1, max_value=1_000_000)
    overrides = DefaultsInputSerializer(
        required=False, help_text="Replace some saved defaults for this call."
    )


class FeesSerializer(serializers.Serializer[Any]):
    available = serializers.BooleanField()
    referral = serializers.CharField(allow_null=True)
    fulfilment = serializers.CharField(allow_null=True)
    closing = serializers.CharField(allow_null=True, help_text="null: not reported by the source (Keepa).")
    other = serializers.CharField(allow_null=True)
    total = serializers.CharField(
        allow_null=True, help_text='null when unavailable: "fees unavailable", never 0.'
    )
    currency = serializers.CharField()
    source = serializers.CharField(help_text="spapi, keepa or sandbox.")  # type: ignore[assignment]
    sample = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why the fees are unavailable; empty otherwise.")
    fetched_at = serializers.DateTimeField()


def fees_data(quote: FeeQuote | None) -> dict[str, Any] | None:
    if quote is None:
        return None
    data = quote.to_dict()
    return {name: data[name] for name in _names(FeesSerializer)}


class ProfitOutputSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=STATUSES)
    asin = serializers.CharField()
    marketplace = serializers.CharField()
    title = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    quantity = serializers.IntegerField()
    buy_cost = serializers.CharField()
    sale_price = serializers.CharField(allow_null=True, help_text="The landed buy box (item + shipping).")
    sale_price_source = serializers.CharField(help_text="buy_box, or price (no buy box: the current price).")
    fees = FeesSerializer(allow_null=True)
    vat_rate = serializers.CharField(allow_null=True, help_text="Percent; null when no VAT is counted.")
    output_vat = serializers.CharField(allow_null=True)
    fees_vat_reclaimed = serializers.CharField(allow_null=True)
    net_proceeds = serializers.CharField(allow_null=True)
    inbound = serializers.CharField(allow_null=True)
    prep = serializers.CharField(allow_null=True)
    input_vat_reclaimed = serializers.CharField(allow_null=True)
    landed_cost = serializers.CharField(allow_null=True)
    profit = serializers.CharField(allow_null=True)
    margin_percent = serializers.CharField(allow_null=True)
    roi_percent = serializers.CharField(allow_null=True)
    break_even_cost = serializers.CharField(allow_null=True)
    target_roi_percent = serializers.CharField(allow_null=True)
    max_cost_for_target_roi = serializers.CharField(allow_null=True)
    net_proceeds_total = serializers.CharField(allow_null=True)
    landed_cost_total = serializers.CharField(allow_null=True)
    profit_total = serializers.CharField(allow_null=True)
    sample = serializers.BooleanField()
    notes = serializers.ListField(child=serializers.CharField())
    credits_charged = serializers.IntegerField(
        help_text="0 when an earlier calculation for this ASIN is still fresh, or when refunded."
    )


def profit_data(answer: ProfitAnswer) -> dict[str, Any]:
    result = answer.result
    data: dict[str, Any] = {}
    for name in _names(ProfitOutputSerializer):
        if name == "title":
            data[name] = answer.title
        elif name == "credits_charged":
            data[name] = answer.credits_charged
        elif name == "fees":
            data[name] = fees_data(result.fees)
        elif name == "notes":
            data[name] = list(result.notes)
        else:
            value = getattr(result, name)
            data[name] = value if isinstance(value, bool | int) or value is None else str(value)
    return data
