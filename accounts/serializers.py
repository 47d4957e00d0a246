from typing import Any

from rest_framework import serializers

from accounts.models import ApiKey, ApiKeyScope, User


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    is_active = serializers.BooleanField(read_only=True)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.choices),
        read_only=True,
        help_text="What the key may do besides ordinary calls; `keys:manage`: list, create and revoke keys.",
    )

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
            "scopes",
        )
        read_only_fields: tuple[str, ...] = fields


class ApiKeyCreateInputSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, default="API key", allow_blank=True)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.choices),
        required=False,
        default=list,
        max_length=len(ApiKeyScope.values),
        help_text="Scopes of the new key (none by default). A key can grant only scopes it has itself.",
    )


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
