from django.contrib import admin

from conversion.models import Conversion, ConversionFeedback, FbaSync, FnskuMapping, SpApiConnection
from core.admin import NoAddAdminMixin, NoChangeAdminMixin


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
class ConversionAdmin(NoAddAdminMixin, NoChangeAdminMixin, admin.ModelAdmin[Conversion]):
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


@admin.register(ConversionFeedback)
class ConversionFeedbackAdmin(NoAddAdminMixin, admin.ModelAdmin[ConversionFeedback]):
    list_display = ("updated_at", "user", "fnsku", "marketplace", "asin", "verdict")
    list_filter = ("verdict", "marketplace")
    search_fields = ("fnsku", "asin", "user__email")
    list_select_related = ("user",)
    raw_id_fields = ("conversion", "user")


class FbaSyncInline(admin.TabularInline[FbaSync, SpApiConnection]):
    model = FbaSync
    extra = 0
    can_delete = False
    readonly_fields = ("marketplace", "synced_at", "attempted_at", "items_seen", "last_error")
    max_num = 0


@admin.register(SpApiConnection)
class SpApiConnectionAdmin(NoAddAdminMixin, admin.ModelAdmin[SpApiConnection]):
    list_display = ("user", "selling_partner_id", "token_hint", "is_active", "last_error", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("user__email", "selling_partner_id")
    # The encrypted token is never shown, not even to operators.
    exclude = ("refresh_token_encrypted",)
    readonly_fields = ("user", "selling_partner_id", "token_hint", "last_error", "created_at", "updated_at")
    inlines = [FbaSyncInline]
