from typing import Any

from rest_framework import serializers

from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import EVENTS

EVENT_FIELD = serializers.ListField(
    child=serializers.ChoiceField(choices=list(EVENTS)),
    allow_empty=False,
    help_text="The events this endpoint receives: " + ", ".join(EVENTS) + ".",
)


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    events = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "created_at",
            "updated_at",
            "secret_rotated_at",
            "previous_secret_expires_at",
        )
        read_only_fields: tuple[str, ...] = fields


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.SerializerMethodField(
        help_text="The signing secret. Shown this once (and on each rotation); store it now."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields: tuple[str, ...] = (*WebhookEndpointSerializer.Meta.fields, "secret")
        read_only_fields: tuple[str, ...] = fields

    def get_secret(self, obj: WebhookEndpoint) -> str:
        return str(self.context["secret"])


class WebhookEndpointCreateInputSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=2000, help_text="An https URL on a public address.")
    events = EVENT_FIELD
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class WebhookEndpointUpdateInputSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENTS)), allow_empty=False, required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="False pauses the endpoint.")


class WebhookRotateInputSerializer(serializers.Serializer[Any]):
    expire_old_now = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Stop signing with the old secret at once (it leaked) instead of after the grace period.",
    )


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    endpoint_id = serializers.IntegerField(read_only=True)
    replay_of_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The delivery this one replays, if any."
    )

    class Meta:
        model = WebhookDelivery
        fields: tuple[str, ...] = (
            "id",
            "endpoint_id",
            "event_id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_response",
            "last_error",
            "replay_of_id",
            "created_at",
            "finished_at",
        )
        read_only_fields: tuple[str, ...] = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    payload = serializers.JSONField(read_only=True, help_text="The JSON body sent.")

    class Meta(WebhookDeliverySerializer.Meta):
        fields: tuple[str, ...] = (*WebhookDeliverySerializer.Meta.fields, "payload")
        read_only_fields: tuple[str, ...] = fields


class WebhookDeliveryFilterSerializer(serializers.Serializer[Any]):
    endpoint = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Only this endpoint's deliveries."
    )
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    event = serializers.CharField(required=False, max_length=64)
