from typing import Any

from rest_framework import serializers

from accounts.models import ApiKey, User


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiKey
        fields: tuple[str, ...] = (
            "id",
            "name",
            "prefix",
            "is_active",
            "created_at",
            "last_used_at",
            "revoked_at",
        )
        read_only_fields: tuple[str, ...] = fields


class ApiKeyCreateInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, default="API key", allow_blank=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.SerializerMethodField(help_text="The key itself. Shown this once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields: tuple[str, ...] = (*ApiKeySerializer.Meta.fields, "key")
        read_only_fields: tuple[str, ...] = fields

    def get_key(self, obj: ApiKey) -> str:
        return str(self.context["raw_key"])


class MeSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ("id", "email", "full_name", "date_joined")
        read_only_fields = fields
