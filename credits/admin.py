"""Operators' view of credits: balances, the read-only ledger, holds and prices.

Balances change only through credits/services.py: the "Adjust credits" action
asks for a signed amount and a reason and calls ``credits_adjust`` with the
acting admin as the actor. Ledger entries and holds cannot be added, changed
or deleted here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from accounts.admin import user_page_field
from accounts.models import User
from core.admin import NoAddAdminMixin, NoDeleteAdminMixin, ViewOnlyAdminMixin
from core.errors import DomainError
from credits import selectors, services
from credits.models import CreditAccount, CreditHold, LedgerEntry, Price


class AdjustCreditsForm(forms.Form):
    amount = forms.IntegerField(
        help_text="Credits to add (positive) or take away (negative).",
        min_value=-10_000_000,
        max_value=10_000_000,
    )
    reason = forms.CharField(
        max_length=255, help_text="Kept in the ledger entry, for the user and for audit."
    )

    def clean_amount(self) -> int:
        amount: int = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("An adjustment must change the balance.")
        return amount


class BalanceFilter(admin.SimpleListFilter):
    title = "balance"
    parameter_name = "balance"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("empty", "Empty"), ("low", "Below the user's threshold"), ("funded", "Above zero")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "empty":
            return queryset.filter(balance=0)
        if self.value() == "low":
            return queryset.filter(
                low_balance_threshold__isnull=False, balance__lt=F("low_balance_threshold")
            )
        if self.value() == "funded":
            return queryset.filter(balance__gt=0)
        return queryset


# Accounts are opened with their user, never here, and kept.
@admin.register(CreditAccount)
class CreditAccountAdmin(NoAddAdminMixin, NoDeleteAdminMixin, admin.ModelAdmin[CreditAccount]):
    list_display = ("user", "balance", "low_balance_threshold", "created_at")
    list_filter = (BalanceFilter,)
    search_fields = ("user__email",)
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    fields = ("user", "balance", "low_balance_threshold", "created_at", "ledger")
    readonly_fields = ("user", "balance", "created_at", "ledger")
    ordering = ("user__email",)
    actions = ("adjust_credits",)

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("credits.adjust_credits")

    def save_model(self, request: HttpRequest, obj: CreditAccount, form: Any, change: bool) -> None:
        # Only the threshold is editable; the balance is read-only here.
        services.credits_threshold_set(user=obj.user, threshold=obj.low_balance_threshold)

    @admin.display(description="Ledger")
    def ledger(self, obj: CreditAccount) -> str:
        url = reverse("admin:credits_ledgerentry_changelist") + f"?account__id__exact={obj.pk}"
        adjust = reverse("admin:credits_creditaccount_adjust", args=[obj.pk])
        return format_html(
            '<a href="{}">All entries of this account</a> · <a href="{}">Adjust credits</a>', url, adjust
        )

    def get_urls(self) -> list[URLPattern]:
        adjust = path(
            "<int:object_id>/adjust/",
            self.admin_site.admin_view(self.adjust_view),
            name="credits_creditaccount_adjust",
        )
        return [adjust, *super().get_urls()]

    def adjust_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The "Adjust credits" action for one account, linked from its page and its user's."""
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        account = get_object_or_404(CreditAccount, pk=object_id)
        response = self.adjust_credits(request, CreditAccount.objects.filter(pk=account.pk))
        if response is not None:  # the form, first shown or with its errors
            return response
        return redirect("admin:accounts_user_change", account.user_id)

    @admin.action(description="Adjust credits of the selected accounts", permissions=["adjust"])
    def adjust_credits(self, request: HttpRequest, queryset: QuerySet[CreditAccount]) -> HttpResponse | None:
        form = AdjustCreditsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for account in queryset.select_related("user").order_by("pk"):
                try:
                    entry = services.credits_adjust(
                        user=account.user,
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user,  # type: ignore[arg-type]
                    )
                except DomainError as exc:
                    self.message_user(request, f"{account.user}: {exc.message}", messages.ERROR)
                else:
                    done += 1
                    self.message_user(
                        request, f"{account.user}: {entry.amount:+d} credits, balance {entry.balance_after}."
                    )
            if done:
                self.message_user(request, f"Adjusted {done} account(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Adjust credits",
            "opts": self.model._meta,
            "accounts": queryset.select_related("user"),
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "action": "adjust_credits",
        }
        return TemplateResponse(request, "admin/credits/adjust_credits.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ViewOnlyAdminMixin, admin.ModelAdmin[LedgerEntry]):
    list_display = (
        "created_at",
        "account",
        "kind",
        "amount",
        "balance_after",
        "operation",
        "reference",
        "description",
        "actor",
    )
    list_filter = ("kind", "operation")
    search_fields = ("account__user__email", "reference", "idempotency_key", "description")
    list_select_related = ("account__user", "actor")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(CreditHold)
class CreditHoldAdmin(ViewOnlyAdminMixin, admin.ModelAdmin[CreditHold]):
    list_display = ("created_at", "account", "amount", "used", "released", "status", "operation", "reference")
    list_filter = ("status", "operation")
    search_fields = ("account__user__email", "reference", "idempotency_key")
    list_select_related = ("account__user",)
    date_hierarchy = "created_at"


@admin.register(Price)
class PriceAdmin(NoDeleteAdminMixin, admin.ModelAdmin[Price]):
    list_display = ("operation", "credits", "description", "updated_at")
    list_editable = ("credits",)
    search_fields = ("operation", "description")
    list_filter = ("updated_at",)  # prices changed recently
    fields = ("operation", "credits", "description", "updated_at")
    readonly_fields = ("updated_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Code calls an operation by its name: renaming one would unprice it.
        return (*self.readonly_fields, "operation") if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Price, form: Any, change: bool) -> None:
        # Through the service, so every process picks the new price up.
        price = services.price_set(operation=obj.operation, credits=obj.credits, description=obj.description)
        obj.pk = price.pk
        obj.updated_at = price.updated_at


@admin.display(description="Credit balance")
def credit_balance(user: User) -> str:
    """On a user's page (accounts' admin): the balance, with links to adjust it and to the ledger."""
    account = selectors.credit_account_get(user=user)
    if account is None:
        return "No credit account"
    adjust = reverse("admin:credits_creditaccount_adjust", args=[account.pk])
    ledger = reverse("admin:credits_ledgerentry_changelist") + f"?account__id__exact={account.pk}"
    return format_html(
        '{} credits · <a href="{}">Adjust credits</a> · <a href="{}">Ledger</a>',
        selectors.balance_get(user=user),
        adjust,
        ledger,
    )


user_page_field(credit_balance, section="Credits", position=0)
