from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.types import AuthedHttpRequest
from core.errors import DomainError
from credits import selectors, services
from credits.filters import LocalDayLedgerEntryFilter
from credits.forms import USAGE_PERIODS, LowBalanceThresholdForm, UsagePeriodForm
from credits.lines import ledger_lines
from credits.models import LedgerEntry
from credits.selectors import UsageSummary
from credits.wording import operation_words

TRANSACTIONS_PER_PAGE = 25
DEFAULT_USAGE_DAYS = 30


def _chart_data(usage: UsageSummary) -> dict[str, Any]:
    return {
        "labels": [day.date.isoformat() for day in usage.daily],
        "datasets": [
            {
                "label": operation_words(operation),
                "data": [day.by_operation.get(operation, 0) for day in usage.daily],
            }
            for operation in usage.by_operation
        ],
    }


@login_required
@require_GET
def credits_dashboard(request: AuthedHttpRequest) -> HttpResponse:
    account = services.credits_account_open(user=request.user)
    entries = selectors.ledger_entry_list(user=request.user)
    filterset = LocalDayLedgerEntryFilter(request.GET, queryset=entries)
    if filterset.is_valid():
        entries = filterset.qs
    else:
        messages.error(request, "Some filters were not valid and were ignored.")
    kinds = filterset.form.cleaned_data.get("kind") if filterset.is_valid() else None
    # A fully refunded charge is one line, unless the list asks for refunds without charges.
    group = not kinds or LedgerEntry.Kind.CHARGE in kinds
    page_obj = Paginator(selectors.ledger_lines_list(entries, group=group), TRANSACTIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    period = UsagePeriodForm(request.GET)
    days = (period.cleaned_data["days"] if period.is_valid() else None) or DEFAULT_USAGE_DAYS
    usage = selectors.usage_summary(user=request.user, days=days)
    context = {
        "account": account,
        "held": selectors.held_total(account=account),
        "page_obj": page_obj,
        "lines": ledger_lines(page_obj.object_list),
        "kinds": LedgerEntry.Kind.choices,
        "filters": filterset.form.cleaned_data if filterset.is_valid() else {},
        "usage": usage,
        "usage_words": [(operation_words(op), spent) for op, spent in usage.by_operation.items()],
        "days": days,
        "period_choices": USAGE_PERIODS,
        "chart_data": _chart_data(usage),
        "threshold_form": LowBalanceThresholdForm(initial={"threshold": account.low_balance_threshold}),
    }
    return render(request, "credits/dashboard.html", context)


@login_required
@require_POST
def credits_threshold_update(request: AuthedHttpRequest) -> HttpResponse:
    form = LowBalanceThresholdForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("credits")
    try:
        account = services.credits_threshold_set(user=request.user, threshold=form.cleaned_data["threshold"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if account.low_balance_threshold is None:
            messages.success(request, "Low-balance notice turned off.")
        else:
            messages.success(request, f"You will see a notice below {account.low_balance_threshold} credits.")
    return redirect("credits")
