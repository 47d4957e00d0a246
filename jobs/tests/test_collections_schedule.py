"""When collections are due: the slot arithmetic, and the beat service under a controlled clock."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from credits.tests.factories import funded_user
from jobs.collections import services
from jobs.collections.schedule import add_months, first_slot, slot_after
from jobs.models import Collection, CollectionRun, Schedule
from jobs.tests.collection_factories import make_collection

T0 = datetime(2026, 1, 31, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("hourly", T0, T0 + timedelta(hours=1)),
        ("hourly", T0 + timedelta(minutes=59), T0 + timedelta(hours=1)),
        ("hourly", T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        ("hourly", T0 + timedelta(hours=5, minutes=1), T0 + timedelta(hours=6)),
        ("daily", T0, T0 + timedelta(days=1)),
        ("daily", T0 + timedelta(days=3, hours=2), T0 + timedelta(days=4)),
        ("weekly", T0, T0 + timedelta(weeks=1)),
        ("weekly", T0 + timedelta(days=8), T0 + timedelta(weeks=2)),
        ("daily", T0 - timedelta(days=3), T0 + timedelta(days=1)),  # never before the first slot
        # Monthly from the 31st: the last day of shorter months, the 31st again when there is one.
        ("monthly", T0, datetime(2026, 2, 28, 10, 30, tzinfo=UTC)),
        ("monthly", datetime(2026, 2, 28, 10, 30, tzinfo=UTC), datetime(2026, 3, 31, 10, 30, tzinfo=UTC)),
        ("monthly", datetime(2026, 4, 15, tzinfo=UTC), datetime(2026, 4, 30, 10, 30, tzinfo=UTC)),
        ("monthly", datetime(2026, 12, 31, 11, tzinfo=UTC), datetime(2027, 1, 31, 10, 30, tzinfo=UTC)),
        ("on_demand", T0, None),
    ],
)
def test_slot_after(schedule, after, expected):
    assert slot_after(schedule=schedule, anchor=T0, after=after) == expected


def test_first_slot_is_one_period_after_the_schedule_is_set():
    assert first_slot(schedule="daily", anchor=T0) == T0 + timedelta(days=1)
    assert first_slot(schedule="on_demand", anchor=T0) is None
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)


@pytest.mark.django_db
def test_the_beat_claims_each_due_slot_once_as_the_clock_moves():
    user = funded_user(credits=1000)
    with time_machine.travel(T0, tick=False) as clock:
        hourly = make_collection(user, schedule=Schedule.HOURLY)
        daily = make_collection(user, schedule=Schedule.DAILY)
        on_demand = make_collection(user, schedule=Schedule.ON_DEMAND)
        assert on_demand.next_run_at is None

        # Nothing is due before the first slot.
        clock.shift(timedelta(minutes=59))
        assert services.collections_run_due().claimed == []

        clock.shift(timedelta(minutes=1, seconds=30))  # 11:31:30
        first = services.collections_run_due()
        assert len(first.claimed) == 1
        run = CollectionRun.objects.get(pk=first.claimed[0])
        assert (run.collection_id, run.slot, run.trigger) == (hourly.pk, T0 + timedelta(hours=1), "schedule")
        assert services.collections_run_due().claimed == []  # the next tick: nothing new
        hourly.refresh_from_db()
        assert hourly.next_run_at == T0 + timedelta(hours=2)

        # The beat was down for a day and a half: one run each, not the backlog; then the next slot.
        clock.shift(timedelta(days=1, hours=12))
        caught_up = services.collections_run_due()
        assert {CollectionRun.objects.get(pk=pk).collection_id for pk in caught_up.claimed} == {
            hourly.pk,
            daily.pk,
        }
        hourly.refresh_from_db()
        daily.refresh_from_db()
        now = T0 + timedelta(days=1, hours=13, seconds=90)
        assert hourly.next_run_at == T0 + timedelta(days=1, hours=14)
        assert daily.next_run_at == T0 + timedelta(days=2)
        assert hourly.next_run_at > now
        assert daily.next_run_at > now

    assert CollectionRun.objects.filter(collection=on_demand).count() == 0
    assert CollectionRun.objects.filter(collection=hourly).count() == 2
    assert CollectionRun.objects.filter(collection=daily).count() == 1


@pytest.mark.django_db
def test_changing_the_schedule_counts_from_now():
    user = funded_user(credits=10)
    collection = make_collection(user, schedule=Schedule.ON_DEMAND, now=T0)
    later = T0 + timedelta(hours=5)
    collection = services.collection_update(collection=collection, schedule=Schedule.WEEKLY, now=later)
    assert collection.next_run_at == later + timedelta(weeks=1)
    collection = services.collection_update(
        collection=collection, name="Renamed", now=later + timedelta(days=1)
    )
    assert collection.next_run_at == later + timedelta(weeks=1)  # same schedule: unchanged
    collection = services.collection_update(collection=collection, schedule=Schedule.ON_DEMAND)
    assert Collection.objects.get(pk=collection.pk).next_run_at is None
