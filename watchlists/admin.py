from django.contrib import admin

from core.admin import NoChangeAdminMixin
from watchlists.models import Alert, ItemSnapshot, WatchItem, Watchlist


class WatchItemInline(admin.TabularInline[WatchItem, Watchlist]):
    model = WatchItem
    extra = 0
    fields = ("asin", "marketplace", "price_below", "price_above", "rank_better_than", "rank_worse_than")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin[Watchlist]):
    list_display = ("name", "user", "interval", "next_refresh_at", "last_refreshed_at", "created_at")
    list_filter = ("interval",)
    search_fields = ("name", "user__email")
    raw_id_fields = ("user",)
    inlines = [WatchItemInline]


@admin.register(WatchItem)
class WatchItemAdmin(admin.ModelAdmin[WatchItem]):
    list_display = ("asin", "marketplace", "watchlist", "price_below", "price_above", "created_at")
    search_fields = ("asin", "watchlist__name", "watchlist__user__email")
    raw_id_fields = ("watchlist",)


@admin.register(ItemSnapshot)
class ItemSnapshotAdmin(NoChangeAdminMixin, admin.ModelAdmin[ItemSnapshot]):
    list_display = ("item", "slot", "status", "price", "currency", "sales_rank", "in_stock", "credits")
    list_filter = ("status",)
    search_fields = ("item__asin",)
    raw_id_fields = ("item",)


@admin.register(Alert)
class AlertAdmin(NoChangeAdminMixin, admin.ModelAdmin[Alert]):
    list_display = (
        "created_at",
        "user",
        "watchlist_name",
        "asin",
        "marketplace",
        "condition",
        "crossing",
        "read_at",
    )
    list_filter = ("condition",)
    search_fields = ("asin", "user__email", "watchlist_name", "message")
    raw_id_fields = ("user", "item", "snapshot")
    date_hierarchy = "created_at"
