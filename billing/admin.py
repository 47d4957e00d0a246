"""Operators' view of billing: packs (editable), payments with their refunds,
disputes and shortfalls (read-only), Stripe's webhook log with a re-process
action, and the revenue report with a chart.

Nothing here moves credits or money directly: the re-process action calls
``webhook_event_reprocess``, the same service as a redelivery.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin import INLINE_ROWS, UserPageInline, user_page_inline
from billing import selectors, stripe_events
from billing.conf import stripe_config
from billing.models import CreditPack, Payment, Reversal, WebhookEvent
from core.admin import NoAddAdminMixin, NoChangeAdminMixin, ViewOnlyAdminMixin
from core.errors import DomainError
from core.money import format_money

MAX_REPORT_DAYS = 400


@admin.register(CreditPack)
class CreditPackAdmin(admin.ModelAdmin[CreditPack]):
    list_display = ("name", "credits", "price", "price_for_people", "currency", "active", "order")
    list_editable = ("active", "order")
    list_filter = ("active", "currency")
    search_fields = ("name",)
    fields = ("name", "credits", "price", "currency", "active", "order", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="Price shown")
    def price_for_people(self, obj: CreditPack) -> str:
        return obj.price_display

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A sold pack stays for its payments' history; make it inactive instead.
        if obj is not None and obj.payments.exists():
            return False
        return super().has_delete_permission(request, obj)


class ShortfallFilter(admin.SimpleListFilter):
    title = "credits not recovered"
    parameter_name = "shortfall"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Some credits already spent"), ("no", "None")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(credits_shortfall__gt=0)
        if self.value() == "no":
            return queryset.filter(credits_shortfall=0)
        return queryset


class ReversalInline(NoAddAdminMixin, NoChangeAdminMixin, admin.TabularInline[Reversal, Payment]):
    model = Reversal
    extra = 0
    can_delete = False
    fields = (
        "kind",
        "stripe_id",
        "money",
        "credits_asked",
        "credits_taken",
        "credits_shortfall",
        "credits_returned",
        "occurred_at",
    )
    readonly_fields = fields

    @admin.display(description="Amount")
    def money(self, obj: Reversal) -> str:
        return format_money(obj.amount, obj.payment.currency)


class RevenueReportForm(forms.Form):
    period = forms.ChoiceField(choices=[("day", "By day"), ("month", "By month")], required=False)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    provider = forms.ChoiceField(
        choices=[("", "All payments"), *Payment.Provider.choices], required=False, label="Payments"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The start date is after the end date.")
        if (
            data.get("period", "day") in ("", "day")
            and start
            and (end or timezone.now().date()) - start > (dt.timedelta(days=MAX_REPORT_DAYS))
        ):
            raise forms.ValidationError(f"Show at most {MAX_REPORT_DAYS} days by day; choose By month.")
        return data


@admin.register(Payment)
class PaymentAdmin(ViewOnlyAdminMixin, admin.ModelAdmin[Payment]):
    change_list_template = "admin/billing/payment/change_list.html"
    list_display = (
        "created_at",
        "user",
        "pack",
        "provider",
        "status",
        "amount_paid",
        "refunded",
        "credits_granted",
        "credits_reversed",
        "credits_shortfall",
    )
    list_filter = ("status", "provider", ShortfallFilter, "dispute_status", "pack")
    search_fields = (
        "user__email",
        "checkout_session_id",
        "payment_intent_id",
        "charge_id",
        "dispute_id",
    )
    list_select_related = ("user", "pack")
    date_hierarchy = "created_at"
    inlines = (ReversalInline,)
    fieldsets = (
        (None, {"fields": ("reference", "user", "pack", "provider", "status")}),
        (
            "Stripe",
            {
                "fields": (
                    "checkout_session_id",
                    "checkout_url",
                    "payment_intent_id",
                    "charge_id",
                    "receipt_url",
                )
            },
        ),
        ("Money", {"fields": ("amount_paid", "refunded", "currency")}),
        (
            "Credits",
            {
                "fields": ("credits", "credits_granted", "credits_reversed", "credits_shortfall"),
                "description": "Shortfall: credits refunds and disputes should have taken back but the user "
                "had already spent. Follow up with the user or write them off.",
            },
        ),
        ("Dispute", {"fields": ("dispute_id", "dispute_status")}),
        ("Dates", {"fields": ("created_at", "expires_at", "paid_at", "closed_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    @admin.display(description="Amount", ordering="amount")
    def amount_paid(self, obj: Payment) -> str:
        return obj.amount_display

    @admin.display(description="Refunded", ordering="amount_refunded")
    def refunded(self, obj: Payment) -> str:
        return obj.amount_refunded_display if obj.amount_refunded else "—"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        shortfall = Payment.objects.aggregate(total=Sum("credits_shortfall"))["total"] or 0
        extra_context = {
            **(extra_context or {}),
            "revenue_url": reverse("admin:billing_payment_revenue"),
            "credits_shortfall_total": shortfall,
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        revenue = path(
            "revenue/", self.admin_site.admin_view(self.revenue_view), name="billing_payment_revenue"
        )
        return [revenue, *super().get_urls()]

    def revenue_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # With Stripe configured, real money only unless asked otherwise: sandbox
        # payments of an earlier trial would inflate the figures.
        default_provider = Payment.Provider.STRIPE if stripe_config().live else ""
        form = RevenueReportForm(request.GET or None, initial={"period": "day", "provider": default_provider})
        report = None
        if not request.GET or form.is_valid():
            data: dict[str, Any] = form.cleaned_data if request.GET else {"provider": default_provider}
            report = selectors.revenue_report(
                period=data.get("period") or "day",
                start=data.get("start"),
                end=data.get("end"),
                provider=data.get("provider") or "",
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Revenue",
            "opts": self.model._meta,
            "form": form,
            "report": report,
            "chart_data": report.chart if report else {"labels": [], "datasets": []},
        }
        return TemplateResponse(request, "admin/billing/revenue.html", context)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ViewOnlyAdminMixin, admin.ModelAdmin[WebhookEvent]):
    list_display = (
        "received_at",
        "stripe_id",
        "type",
        "status",
        "note",
        "error_summary",
        "attempts",
        "deliveries",
        "livemode",
    )
    list_filter = ("status", "type", "livemode")
    search_fields = ("=stripe_id", "=object_id", "type")
    date_hierarchy = "received_at"
    actions = ("reprocess",)
    fields = (
        "stripe_id",
        "type",
        "object_id",
        "status",
        "note",
        "error_text",
        "attempts",
        "deliveries",
        "livemode",
        "api_version",
        "stripe_created_at",
        "received_at",
        "last_delivered_at",
        "processed_at",
        "payload_json",
    )
    readonly_fields = fields

    @admin.display(description="Error")
    def error_summary(self, obj: WebhookEvent) -> str:
        first_line = obj.error.splitlines()[0] if obj.error else ""
        return first_line[:120]

    @admin.display(description="Error")
    def error_text(self, obj: WebhookEvent) -> str:
        return format_html("<pre class='webhook-error'>{}</pre>", obj.error) if obj.error else "—"

    @admin.display(description="Payload")
    def payload_json(self, obj: WebhookEvent) -> str:
        return format_html(
            "<pre class='webhook-payload'>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True)
        )

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_webhookevent")

    @admin.action(description="Re-process the selected failed events", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        for event in queryset.order_by("received_at", "pk"):
            if event.is_done:
                self.message_user(
                    request, f"{event.stripe_id}: already {event.status}, left alone.", messages.INFO
                )
                continue
            try:
                event = stripe_events.webhook_event_reprocess(event=event)
            except DomainError as exc:
                event.refresh_from_db()
                reason = event.error.splitlines()[0] if event.error else exc.message
                self.message_user(request, f"{event.stripe_id}: failed again: {reason}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{event.stripe_id}: {event.status}. {event.note}", messages.SUCCESS
                )


class UserPaymentInline(UserPageInline):
    """A user's latest payments, on their page (accounts' admin)."""

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


user_page_inline(UserPaymentInline, position=10)
