from django.contrib import admin

from core.admin import NoAddAdminMixin, NoChangeAdminMixin
from products.models import LookupLog, Product, ProductSnapshot


class ProductSnapshotInline(admin.TabularInline[ProductSnapshot, Product]):
    model = ProductSnapshot
    extra = 0
    can_delete = False
    fields = ("fetched_at", "provider", "price", "currency", "sales_rank", "offer_count", "rating")
    readonly_fields = fields
    ordering = ("-fetched_at",)
    max_num = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ("asin", "marketplace", "title", "brand", "provider", "sample_data", "fetched_at")
    list_filter = ("marketplace", "provider", "sample_data")
    search_fields = ("asin", "title", "brand")
    date_hierarchy = "fetched_at"
    readonly_fields = (
        "asin",
        "marketplace",
        "title",
        "brand",
        "provider",
        "sample_data",
        "record",
        "fetched_at",
        "created_at",
    )
    inlines = [ProductSnapshotInline]


@admin.register(LookupLog)
class LookupLogAdmin(NoAddAdminMixin, NoChangeAdminMixin, admin.ModelAdmin[LookupLog]):
    list_display = (
        "created_at",
        "user",
        "asin",
        "marketplace",
        "channel",
        "source",
        "outcome",
        "credits",
        "latency_ms",
    )
    list_filter = ("outcome", "source", "channel", "marketplace")
    search_fields = ("asin", "user__email")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
