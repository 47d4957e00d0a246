"""Slots of a schedule: ``anchor`` plus one or more whole periods (calendar months for monthly).

Pure functions of their arguments, so they are tested with any clock. A
monthly collection anchored on the 31st runs on the last day of shorter months
and on the 31st again when the month has one.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from jobs.models import Schedule

PERIODS = {
    Schedule.HOURLY: timedelta(hours=1),
    Schedule.DAILY: timedelta(days=1),
    Schedule.WEEKLY: timedelta(weeks=1),
}


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def slot_after(*, schedule: str, anchor: datetime, after: datetime) -> datetime | None:
    """The first slot strictly after ``after`` (None for on demand)."""
    if schedule == Schedule.ON_DEMAND:
        return None
    if schedule == Schedule.MONTHLY:
        months = max(1, (after.year - anchor.year) * 12 + after.month - anchor.month)
        while (slot := add_months(anchor, months)) <= after:
            months += 1
        return slot
    period = PERIODS[Schedule(schedule)]
    return anchor + max(1, (after - anchor) // period + 1) * period


def first_slot(*, schedule: str, anchor: datetime) -> datetime | None:
    """The first slot of a schedule set at ``anchor``: one period later (run now runs at once)."""
    return slot_after(schedule=schedule, anchor=anchor, after=anchor)
