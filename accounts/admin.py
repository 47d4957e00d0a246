from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.forms import UserChangeForm, UserCreationForm
from accounts.models import ApiKey, User
from billing.models import Payment
from core.admin import NoAddAdminMixin, ViewOnlyAdminMixin
from credits import selectors as credit_selectors
from jobs.models import BulkJob

# A user's page shows their latest rows of each kind; the full lists are a link away.
INLINE_ROWS = 20


class _LatestRowsFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[Any]:
        rows: QuerySet[Any] = super().get_queryset()
        latest = list(rows.order_by("-created_at", "-pk").values_list("pk", flat=True)[:INLINE_ROWS])
        return rows.filter(pk__in=latest)


class _ReadOnlyInline(ViewOnlyAdminMixin, admin.TabularInline[Any, User]):
    """Rows of another model shown on the user's page; they change through their own services."""

    formset = _LatestRowsFormSet
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ("-created_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields


class ApiKeyInline(_ReadOnlyInline):
    model = ApiKey
    fields = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    verbose_name_plural = f"API keys (latest {INLINE_ROWS})"


class PaymentInline(_ReadOnlyInline):
    model = Payment
    fields = (
        "created_at",
        "pack",
        "provider",
        "status",
        "amount",
        "currency",
        "amount_refunded",
        "credits_granted",
    )
    verbose_name_plural = f"payments (latest {INLINE_ROWS})"


class BulkJobInline(_ReadOnlyInline):
    model = BulkJob
    fields = ("created_at", "kind", "status", "total", "succeeded", "failed", "credits_spent", "finished_at")
    verbose_name_plural = f"bulk jobs (latest {INLINE_ROWS})"


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "full_name", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    readonly_fields = ("date_joined", "last_login", "credit_balance")
    date_hierarchy = "date_joined"
    inlines = (ApiKeyInline, PaymentInline, BulkJobInline)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Credits", {"fields": ("credit_balance",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),
    )

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    @admin.display(description="Credit balance")
    def credit_balance(self, obj: User) -> str:
        account = credit_selectors.credit_account_get(user=obj)
        if account is None:
            return "No credit account"
        adjust = reverse("admin:credits_creditaccount_adjust", args=[account.pk])
        ledger = reverse("admin:credits_ledgerentry_changelist") + f"?account__id__exact={account.pk}"
        return format_html(
            '{} credits · <a href="{}">Adjust credits</a> · <a href="{}">Ledger</a>',
            credit_selectors.balance_get(user=obj),
            adjust,
            ledger,
        )


# Not added here: a key must be shown to its owner once at creation, which happens on
# their page, the API or `manage.py createapikey`.
@admin.register(ApiKey)
class ApiKeyAdmin(NoAddAdminMixin, admin.ModelAdmin[ApiKey]):
    list_display = ("name", "prefix", "user", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__email")
    date_hierarchy = "created_at"
    # Scopes are fixed when the key is created (cached copies of a key's state rely on it).
    readonly_fields = ("user", "prefix", "key_hash", "scopes", "created_at", "last_used_at")
    list_select_related = ("user",)
