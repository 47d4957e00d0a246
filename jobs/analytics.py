"""Reads over bulk jobs for the analytics pages. Days are UTC days and periods
half-open ``[since, until)`` in UTC, like products/analytics.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import FieldError
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from jobs.models import BulkItem, BulkJob

if TYPE_CHECKING:
    from accounts.models import User


@dataclass
class BulkDay:
    date: dt.date
    jobs: int = 0
    items: int = 0
    succeeded: int = 0
    failed: int = 0


def bulk_jobs_by_day(*, user: User, start: dt.date, end: dt.date) -> list[BulkDay]:
    """``user``'s bulk jobs created per UTC day from ``start`` to ``end`` (inclusive), with their items."""
    since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    by_day = {
        start + dt.timedelta(days=i): BulkDay(date=start + dt.timedelta(days=i))
        for i in range((end - start).days + 1)
    }
    rows = (
        BulkJob.objects.filter(user=user, created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(jobs=Count("id"), item_count=Sum("total"), succeeded=Sum("succeeded"), failed=Sum("failed"))
        .order_by()
    )
    for row in rows:
        day = by_day.get(row["day"])
        if day is not None:
            day.jobs = row["jobs"]
            day.items = row["item_count"] or 0
            day.succeeded = row["succeeded"] or 0
            day.failed = row["failed"] or 0
    return [by_day[day] for day in sorted(by_day)]


def bulk_items_failed_count(*, since: dt.datetime, until: dt.datetime) -> int | None:
    """Bulk items that finished as failed in the period (None if bulk jobs keep no such record)."""
    try:
        return BulkItem.objects.filter(
            status=BulkItem.Status.FAILED, finished_at__gte=since, finished_at__lt=until
        ).count()
    except (AttributeError, FieldError):  # the bulk models are still young; never break the admin index
        return None
