"""Filters of the transaction history, shared by the API and the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.db.models import QuerySet

from credits.models import LedgerEntry


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


class LedgerEntryFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(
        choices=LedgerEntry.Kind.choices, help_text="Only entries of these kinds (repeat for several)."
    )
    operation = django_filters.CharFilter(help_text="Only entries for this priced operation.")
    created_after = django_filters.DateFilter(
        method="filter_created_after", help_text="From this day on (UTC, inclusive), YYYY-MM-DD."
    )
    created_before = django_filters.DateFilter(
        method="filter_created_before", help_text="Up to this day (UTC, inclusive), YYYY-MM-DD."
    )

    class Meta:
        model = LedgerEntry
        fields = ("kind", "operation", "created_after", "created_before")

    # Ranges on the column itself (not a date of it) keep the index usable.
    def filter_created_after(self, queryset: QuerySet[LedgerEntry], name: str, value: Any) -> Any:
        return queryset.filter(created_at__gte=_start_of(value))

    def filter_created_before(self, queryset: QuerySet[LedgerEntry], name: str, value: Any) -> Any:
        return queryset.filter(created_at__lt=_start_of(value + dt.timedelta(days=1)))
