"""Bulk job analytics, checked against rows of known content."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.tests.factories import UserFactory
from jobs import analytics
from jobs.models import BulkJob
from jobs.tests.factories import BulkItemFactory, BulkJobFactory

pytestmark = pytest.mark.django_db

SINCE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC)


class TestBulkAnalytics:
    def test_bulk_jobs_by_day(self):
        user = UserFactory()

        def job(day: int, total: int, succeeded: int = 0, failed: int = 0) -> BulkJob:
            job: BulkJob = BulkJobFactory(
                user=user, total=total, succeeded=succeeded, failed=failed, created_at=at(day)
            )
            return job

        job(2, 10, succeeded=8, failed=2)
        job(2, 5)
        job(4, 7, succeeded=7)
        BulkJobFactory(total=99, created_at=at(2))

        days = analytics.bulk_jobs_by_day(user=user, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 4))

        assert [(d.date.day, d.jobs, d.items, d.succeeded, d.failed) for d in days] == [
            (1, 0, 0, 0, 0),
            (2, 2, 15, 8, 2),
            (3, 0, 0, 0, 0),
            (4, 1, 7, 7, 0),
        ]

    def test_failed_bulk_items_are_counted_on_the_day_they_finished(self):
        user = UserFactory()
        job = BulkJobFactory(user=user, total=3, failed=2, status=BulkJob.Status.COMPLETED, finished_at=at(3))
        BulkItemFactory(job=job, row=1, input="x", status="failed", finished_at=at(3))
        BulkItemFactory(job=job, row=2, input="y", status="failed", finished_at=UNTIL)
        BulkItemFactory(job=job, row=3, input="z", status="succeeded", finished_at=at(3))

        assert analytics.bulk_items_failed_count(since=SINCE, until=UNTIL) == 1
