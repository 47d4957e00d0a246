"""Operators' admin of bulk jobs (cancel, not delete) and of scheduled collections and their runs."""

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from accounts.admin import INLINE_ROWS, UserPageInline, user_page_inline
from core.admin import NoAddAdminMixin, NoChangeAdminMixin, NoDeleteAdminMixin
from jobs.bulk.services import bulk_job_cancel
from jobs.models import BulkItem, BulkJob, Collection, CollectionRun

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


# --- Scheduled collections ---------------------------------------------------------------------


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


class UserBulkJobInline(UserPageInline):
    """A user's latest bulk jobs, on their page (accounts' admin)."""

    model = BulkJob
    fields = ("created_at", "kind", "status", "total", "succeeded", "failed", "credits_spent", "finished_at")
    verbose_name_plural = f"bulk jobs (latest {INLINE_ROWS})"


user_page_inline(UserBulkJobInline, position=20)
