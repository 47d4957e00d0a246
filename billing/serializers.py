from __future__ import annotations

from typing import Any

from rest_framework import serializers

from billing.models import CreditPack, Payment


class PackSerializer(serializers.ModelSerializer[CreditPack]):
    price = serializers.IntegerField(
        read_only=True, help_text="In the smallest currency unit (cents for USD)."
    )
    price_display = serializers.CharField(read_only=True, help_text="The price for people, e.g. $9.00.")

    class Meta:
        model = CreditPack
        fields = ("id", "name", "credits", "price", "currency", "price_display")
        read_only_fields = fields


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
            "paid_at",
        )
        read_only_fields = fields


class CheckoutSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The Checkout Session's id.")
    url = serializers.CharField(help_text="Where the buyer pays: Stripe's page, or the platform's sandbox.")
    sandbox = serializers.BooleanField(help_text="True for the sandbox checkout (no real payment).")
    payment = PaymentSerializer()


class WebhookAckSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    status = serializers.CharField()
