"""The jobs factories make valid rows that hold no credits."""

import pytest

from credits.selectors import accounts_out_of_balance
from jobs.collections.services import collection_cost
from jobs.tests.factories import CollectionRunFactory, bulk_job_with_items

pytestmark = pytest.mark.django_db


def test_a_job_with_items_holds_nothing():
    job = bulk_job_with_items(["B0BLK00001", "B0BLK00002"])

    assert job.total == 2
    assert job.hold_id is None
    assert job.credits_held == 0
    assert list(job.items.order_by("row").values_list("row", "value", "status", "credits")) == [
        (1, "B0BLK00001", "pending", 0),
        (2, "B0BLK00002", "pending", 0),
    ]
    assert accounts_out_of_balance() == []


def test_a_run_costs_what_the_service_says():
    run = CollectionRunFactory()

    assert run.items == run.collection.item_count == len(run.collection.items) == 3
    assert run.cost == collection_cost(kind=run.collection.kind, items=3).total
    assert run.status == "pending"
    assert run.job is None
