from django.contrib import admin
from django.http import HttpRequest

from conversion.models import Conversion, ConversionFeedback, FbaSync, FnskuMapping, SpApiConnection


@admin.register(FnskuMapping)
class FnskuMappingAdmin(admin.ModelAdmin[FnskuMapping]):
    list_display = (
        "fnsku",
        "marketplace",
        "asin",
        "source",
        "user",
        "times_seen",
        "times_confirmed",
        "times_rejected",
        "last_seen",
    )
    list_filter = ("source", "marketplace")
    search_fields = ("fnsku", "asin", "seller_sku", "user__email")
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(Conversion)
class ConversionAdmin(admin.ModelAdmin[Conversion]):
    list_display = (
        "created_at",
        "user",
        "fnsku",
        "marketplace",
        "channel",
        "status",
        "asin",
        "confidence",
        "credits_charged",
        "latency_ms",
    )
    list_filter = ("status", "channel", "marketplace")
    search_fields = ("fnsku", "asin", "user__email")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Conversion._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ConversionFeedback)
class ConversionFeedbackAdmin(admin.ModelAdmin[ConversionFeedback]):
    list_display = ("updated_at", "user", "fnsku", "marketplace", "asin", "verdict")
    list_filter = ("verdict", "marketplace")
    search_fields = ("fnsku", "asin", "user__email")
    list_select_related = ("user",)
    raw_id_fields = ("conversion", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class FbaSyncInline(admin.TabularInline[FbaSync, SpApiConnection]):
    model = FbaSync
    extra = 0
    can_delete = False
    readonly_fields = ("marketplace", "synced_at", "attempted_at", "items_seen", "last_error")
    max_num = 0


@admin.register(SpApiConnection)
class SpApiConnectionAdmin(admin.ModelAdmin[SpApiConnection]):
    list_display = ("user", "selling_partner_id", "token_hint", "is_active", "last_error", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("user__email", "selling_partner_id")
    # The encrypted token is never shown, not even to operators.
    exclude = ("refresh_token_encrypted",)
    readonly_fields = ("user", "selling_partner_id", "token_hint", "last_error", "created_at", "updated_at")
    inlines = [FbaSyncInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
