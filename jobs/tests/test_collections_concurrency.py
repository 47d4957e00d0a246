"""Run now under real concurrency, on PostgreSQL: real threads, one connection each,
released together at a barrier. However many requests race, one run starts and
holds its credits; the others are 409 ``run_in_progress`` and hold nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import api_key_for
from core.tests.threads import race as race_threads
from credits.models import CreditHold, LedgerEntry
from credits.selectors import accounts_out_of_balance, balance_get
from credits.tests.factories import funded_user
from jobs.models import BulkJob, CollectionRun, Schedule
from jobs.tests.collection_factories import make_collection

# Up to 100 connections each: never two of them at once, in any xdist worker (root conftest.py).
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.exclusive("postgres-connections"),
    pytest.mark.slow,
]

RACERS = 10


def race(action: Callable[[], Any], racers: int = RACERS) -> list[Any]:
    """Run ``action`` in ``racers`` threads released at the same moment."""
    return race_threads(action, racers)


@pytest.mark.parametrize("schedule", [Schedule.ON_DEMAND, Schedule.HOURLY])
def test_racing_run_now_requests_start_one_run_and_hold_its_credits_once(schedule):
    user = funded_user(credits=100)
    collection = make_collection(user, 3, schedule=schedule)
    _, key = api_key_for(user)

    def run_now() -> tuple[int, str]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = client.post(f"/api/v1/collections/{collection.pk}/run", {}, format="json")
        code = response.json()["error"]["code"] if response.status_code != 202 else "started"
        return response.status_code, code

    answers = race(run_now)

    assert Counter(answers) == {(202, "started"): 1, (409, "run_in_progress"): RACERS - 1}
    run = CollectionRun.objects.get(collection=collection)  # the 409s recorded no run
    assert (run.status, run.trigger) == ("started", "manual")
    job = BulkJob.objects.get()
    assert (run.job_id, job.credits_held) == (job.pk, 3)
    assert CreditHold.objects.filter(account__user=user).count() == 1
    assert LedgerEntry.objects.filter(account__user=user, kind=LedgerEntry.Kind.HOLD).count() == 1
    assert balance_get(user=user) == 97
    assert accounts_out_of_balance() == []
