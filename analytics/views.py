"""The analytics pages: a user's own usage, and the operators' view of the platform."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.types import AuthedHttpRequest
from analytics import selectors
from core.csv_export import csv_response
from credits import selectors as credit_selectors
from credits.forms import USAGE_PERIODS, UsagePeriodForm
from jobs import analytics as job_analytics
from products import analytics as lookup_analytics

DEFAULT_DAYS = 30
TOP_PRODUCTS = 10


def _days(request: HttpRequest) -> int:
    form = UsagePeriodForm(request.GET)
    return (form.cleaned_data["days"] if form.is_valid() else None) or DEFAULT_DAYS


def _csv_response(header: list[str], rows: Iterable[list[Any]], *, filename: str) -> HttpResponse:
    return csv_response(itertools.chain([header], rows), filename=filename)


@login_required
@require_GET
def user_analytics(request: AuthedHttpRequest) -> HttpResponse:
    days = _days(request)
    usage = credit_selectors.usage_summary(user=request.user, days=days)
    since, _ = selectors.day_bounds(usage.start, usage.end)
    top = lookup_analytics.lookup_top_products(user=request.user, since=since, limit=TOP_PRODUCTS)
    bulk = job_analytics.bulk_jobs_by_day(user=request.user, start=usage.start, end=usage.end)

    if request.GET.get("format") == "csv":
        if request.GET.get("table") == "products":
            return _csv_response(
                ["asin", "marketplace", "lookups", "last_lookup_at"],
                ([p.asin, p.marketplace, p.lookups, p.last_at.isoformat()] for p in top),
                filename=f"top-products-{usage.start}-{usage.end}.csv",
            )
        operations = list(usage.by_operation)
        bulk_by_day = {day.date: day for day in bulk}
        return _csv_response(
            ["date", "credits_spent", *[f"credits_{op}" for op in operations], "bulk_jobs", "bulk_items"],
            (
                [
                    day.date.isoformat(),
                    day.total,
                    *[day.by_operation.get(op, 0) for op in operations],
                    bulk_by_day[day.date].jobs,
                    bulk_by_day[day.date].items,
                ]
                for day in usage.daily
            ),
            filename=f"usage-{usage.start}-{usage.end}.csv",
        )

    sources = lookup_analytics.lookup_source_share(user=request.user, since=since)
    labels = [day.date.isoformat() for day in usage.daily]
    context = {
        "days": days,
        "period_choices": USAGE_PERIODS,
        "usage": usage,
        "top_products": top,
        "sources": sources,
        "lookups_total": sum(s.lookups for s in sources),
        "bulk_jobs_total": sum(day.jobs for day in bulk),
        "bulk_items_total": sum(day.items for day in bulk),
        "usage_chart": {
            "labels": labels,
            "datasets": [
                {"label": op, "data": [day.by_operation.get(op, 0) for day in usage.daily]}
                for op in usage.by_operation
            ],
        },
        "sources_chart": {
            "labels": [s.source for s in sources],
            "datasets": [{"label": "lookups", "data": [s.lookups for s in sources]}],
        },
        "bulk_chart": {
            "labels": labels,
            "datasets": [
                {"label": "jobs", "data": [day.jobs for day in bulk]},
                {"label": "items", "data": [day.items for day in bulk]},
            ],
        },
    }
    return render(request, "analytics/user.html", context)


@require_GET
def operator_analytics(request: HttpRequest) -> HttpResponse:
    # Not found rather than forbidden: the page's existence is nobody else's business.
    if not (request.user.is_authenticated and request.user.is_active and request.user.is_staff):
        raise Http404
    days = _days(request)
    report = selectors.operator_report(days=days)
    latency = report.latency
    context = {
        "days": days,
        "period_choices": USAGE_PERIODS,
        "report": report,
        "revenue_chart": report.revenue.chart,
        "signups_chart": {
            "labels": [day.isoformat() for day, _ in report.signups_by_day],
            "datasets": [{"label": "new users", "data": [n for _, n in report.signups_by_day]}],
        },
        "latency_chart": {
            "labels": [row.channel for row in latency],
            "datasets": [
                {"label": name, "data": [getattr(row, name) for row in latency]}
                for name in ("p50", "p95", "p99")
            ],
        },
        "confidence_chart": {
            "labels": [label for label, _ in report.conversions.bands],
            "datasets": [{"label": "conversions", "data": [n for _, n in report.conversions.bands]}],
        },
    }
    return render(request, "analytics/operators.html", context)
