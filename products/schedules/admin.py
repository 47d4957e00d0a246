from django.contrib import admin

from core.admin import NoAddAdminMixin, NoChangeAdminMixin
from products.schedules.models import Collection, CollectionRun


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin[Collection]):
    list_display = ("name", "user", "kind", "marketplace", "item_count", "schedule", "next_run_at")
    list_filter = ("schedule", "kind")
    search_fields = ("name", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("item_count", "schedule_anchor", "created_at", "updated_at")


@admin.register(CollectionRun)
class CollectionRunAdmin(NoAddAdminMixin, NoChangeAdminMixin, admin.ModelAdmin[CollectionRun]):
    list_display = ("collection", "slot", "trigger", "status", "reason_code", "job", "results_deleted_at")
    list_filter = ("status", "trigger")
    search_fields = ("collection__name", "collection__user__email")
    raw_id_fields = ("collection", "job")
