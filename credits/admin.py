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
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from config.errors import DomainError
from credits import services
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


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin[CreditAccount]):
    list_display = ("user", "balance", "low_balance_threshold", "created_at")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "balance", "low_balance_threshold", "created_at", "ledger")
    readonly_fields = ("user", "balance", "created_at", "ledger")
    ordering = ("user__email",)
    actions = ("adjust_credits",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts are opened with their user

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("credits.adjust_credits")

    def save_model(self, request: HttpRequest, obj: CreditAccount, form: Any, change: bool) -> None:
        # Only the threshold is editable; the balance is read-only here.
        services.credits_threshold_set(user=obj.user, threshold=obj.low_balance_threshold)

    @admin.display(description="Ledger")
    def ledger(self, obj: CreditAccount) -> str:
        url = reverse("admin:credits_ledgerentry_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">All entries of this account</a>', url)

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
class LedgerEntryAdmin(admin.ModelAdmin[LedgerEntry]):
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CreditHold)
class CreditHoldAdmin(admin.ModelAdmin[CreditHold]):
    list_display = ("created_at", "account", "amount", "used", "released", "status", "operation", "reference")
    list_filter = ("status", "operation")
    search_fields = ("account__user__email", "reference", "idempotency_key")
    list_select_related = ("account__user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin[Price]):
    list_display = ("operation", "credits", "description", "updated_at")
    list_editable = ("credits",)
    fields = ("operation", "credits", "description", "updated_at")
    readonly_fields = ("updated_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Code calls an operation by its name: renaming one would unprice it.
        return (*self.readonly_fields, "operation") if obj else self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Price, form: Any, change: bool) -> None:
        # Through the service, so every process picks the new price up.
        price = services.price_set(operation=obj.operation, credits=obj.credits, description=obj.description)
        obj.pk = price.pk
        obj.updated_at = price.updated_at
