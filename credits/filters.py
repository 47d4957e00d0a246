"""Filters of the transaction history, shared by the API and the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from credits.models import LedgerEntry


class LedgerEntryFilter(django_filters.FilterSet):
    """The API's filter: days are UTC days (``LocalDayLedgerEntryFilter``: the page's)."""

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

    def _start_of(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)

    # Ranges on the column itself (not a date of it) keep the index usable.
    def filter_created_after(self, queryset: QuerySet[LedgerEntry], name: str, value: Any) -> Any:
        return queryset.filter(created_at__gte=self._start_of(value))

    def filter_created_before(self, queryset: QuerySet[LedgerEntry], name: str, value: Any) -> Any:
        return queryset.filter(created_at__lt=self._start_of(value + dt.timedelta(days=1)))


class LocalDayLedgerEntryFilter(LedgerEntryFilter):
    """The page's filter: From and To are days in the time zone the page shows times in (the
    browser's, core.timezones), so an entry shown on 7 Dec is found by "7 Dec"."""

    def _start_of(self, day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())
