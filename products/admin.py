from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from accounts.admin import INLINE_ROWS, UserPageInline, user_page_inline
from core.admin import NoAddAdminMixin, NoChangeAdminMixin, NoDeleteAdminMixin
from products.bulk.services import bulk_job_cancel
from products.models import BulkItem, BulkJob, LookupLog, Product, ProductSnapshot


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


# --- Bulk jobs ---------------------------------------------------------------------------------


class _FirstItemsFormSet(BaseInlineFormSet):
    """The first items of a job only: a job can have 10,000."""

    shown = 200

    def get_queryset(self) -> QuerySet[BulkItem]:
        items: QuerySet[BulkItem] = super().get_queryset()
        return items.filter(pk__in=list(items.order_by("row").values_list("pk", flat=True)[: self.shown]))


class BulkItemInline(admin.TabularInline[BulkItem, BulkJob]):
    model = BulkItem
    formset = _FirstItemsFormSet
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = f"items (the first {_FirstItemsFormSet.shown})"
    fields = (
        "row",
        "input",
        "value",
        "status",
        "attempts",
        "credits",
        "error_code",
        "error_message",
        "claimed_by",
        "claimed_at",
        "finished_at",
    )
    readonly_fields = fields
    ordering = ("row",)


# Not deleted here: a job's hold must be settled through the job: cancel it instead.
@admin.register(BulkJob)
class BulkJobAdmin(NoAddAdminMixin, NoDeleteAdminMixin, admin.ModelAdmin[BulkJob]):
    list_display = (
        "id",
        "user",
        "kind",
        "status",
        "total",
        "succeeded",
        "failed",
        "cancelled",
        "credits_held",
        "credits_spent",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind", "source")
    search_fields = ("=id", "user__email", "filename")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = tuple(
        f.name for f in BulkJob._meta.get_fields() if getattr(f, "concrete", False) and not f.many_to_many
    )
    inlines = [BulkItemInline]
    actions = ["cancel_jobs"]

    @admin.action(description="Cancel the selected jobs (release their unused credits)")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[BulkJob]) -> None:
        cancelled = 0
        for job in queryset.filter(status__in=BulkJob.ACTIVE):
            bulk_job_cancel(job=job)
            cancelled += 1
        self.message_user(request, f"{cancelled} job(s) cancelled.")


class UserBulkJobInline(UserPageInline):
    """A user's latest bulk jobs, on their page (accounts' admin)."""

    model = BulkJob
    fields = ("created_at", "kind", "status", "total", "succeeded", "failed", "credits_spent", "finished_at")
    verbose_name_plural = f"bulk jobs (latest {INLINE_ROWS})"


user_page_inline(UserBulkJobInline, position=20)
