from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import CreditPack, Payment


class PackSerializer(serializers.ModelSerializer[CreditPack]):
    price = serializers.IntegerField(
        read_only=True, help_text="In the smallest currency unit (cents for USD)."
    )
    price_display = serializers.CharField(read_only=True, help_text="The price for people, e.g. $9.00.")
    price_per_credit = serializers.DecimalField(
        max_digits=24,
        decimal_places=8,
        read_only=True,
        help_text=(
            "What one credit costs, price / credits, in the currency's major unit (dollars for USD), "
            "to 8 decimals."
        ),
    )
    price_per_credit_display = serializers.CharField(
        read_only=True, help_text="The price per credit for people, e.g. $0.0180."
    )
    best_value = serializers.SerializerMethodField(
        help_text="The lowest price per credit of the packs on sale in its currency."
    )

    class Meta:
        model = CreditPack
        fields = (
            "id",
            "name",
            "credits",
            "price",
            "currency",
            "price_display",
            "price_per_credit",
            "price_per_credit_display",
            "best_value",
        )
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_best_value(self, pack: CreditPack) -> bool:
        # Which packs are the best value is a comparison of all of them (the view's selector).
        return pack.pk in self.context.get("best_value_ids", ())


class CheckoutInputSerializer(serializers.Serializer[Any]):
    pack = serializers.IntegerField(min_value=1, help_text="Id of an active credit pack.")


class PaymentPackSerializer(serializers.ModelSerializer[CreditPack]):
    class Meta:
        model = CreditPack
        fields = ("id", "name")
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    id = serializers.UUIDField(source="reference", read_only=True)
    pack = PaymentPackSerializer(read_only=True)
    amount = serializers.IntegerField(read_only=True, help_text="Paid (or to pay), smallest currency unit.")
    amount_refunded = serializers.IntegerField(read_only=True)
    credits_reversed = serializers.IntegerField(
        read_only=True, help_text="Credits taken back by refunds and disputes."
    )

    class Meta:
        model = Payment
        fields = (
            "id",
            "checkout_session_id",
            "pack",
            "provider",
            "status",
            "credits",
            "credits_granted",
            "credits_reversed",
            "amount",
            "amount_refunded",
            "currency",
            "created_at",
            "expires_at",
            "paid_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "expires_at": {
                "help_text": "When its checkout stops taking payment; unpaid by then, it becomes expired."
            }
        }


class CheckoutSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The Checkout Session's id.")
    url = serializers.CharField(help_text="Where the buyer pays: Stripe's page, or the platform's sandbox.")
    sandbox = serializers.BooleanField(help_text="True for the sandbox checkout (no real payment).")
    payment = PaymentSerializer()


class WebhookAckSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    status = serializers.CharField()
