"""Factories of the jobs app's rows: bulk jobs with their items, collections and their runs.

These rows hold no credits: a job made here has no hold (``credits_held`` 0) and its items used
nothing. A test that needs a job's real creation path (its credit hold, the fingerprint, the
limits) uses ``bulk_helpers.create_job`` or ``collection_factories.make_collection``, which go
through the services."""

from collections.abc import Sequence
from typing import Any

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from jobs.collections.services import collection_cost
from jobs.models import BulkItem, BulkJob, Collection, CollectionKind, CollectionRun
from jobs.tests.bulk_helpers import asins


class BulkJobFactory(factory.django.DjangoModelFactory[BulkJob]):
    """A queued ASIN lookup job from a list, with no hold; its items are not made (see
    ``bulk_job_with_items``)."""

    class Meta:
        model = BulkJob

    user = factory.SubFactory(UserFactory)
    kind = "asin_lookup"
    source = BulkJob.Source.LIST
    params = factory.LazyFunction(lambda: {"marketplace": "US"})
    total = 0
    item_price = 1
    credits_held = 0
    credits_spent = 0


class BulkItemFactory(factory.django.DjangoModelFactory[BulkItem]):
    """A pending item of a job, its row numbered in sequence."""

    class Meta:
        model = BulkItem

    job = factory.SubFactory(BulkJobFactory)
    row = factory.Sequence(lambda n: n + 1)
    input = factory.Sequence(lambda n: f"B0ITM{n:05d}")
    value = factory.LazyAttribute(lambda i: i.input)
    credits = 0


def bulk_job_with_items(values: Sequence[str], **kwargs: Any) -> BulkJob:
    """A job (``BulkJobFactory``) with one pending item per value, rows 1, 2, …"""
    job: BulkJob = BulkJobFactory(total=len(values), **kwargs)
    for row, value in enumerate(values, start=1):
        BulkItemFactory(job=job, row=row, input=value)
    return job


class CollectionFactory(factory.django.DjangoModelFactory[Collection]):
    """A daily US collection of three ASINs the sandbox knows, stored as is (no schedule set:
    ``make_collection`` creates one through the service)."""

    class Meta:
        model = Collection

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Collection {n}")
    kind = CollectionKind.ASIN
    items = factory.LazyFunction(lambda: asins(3))
    item_count = factory.LazyAttribute(lambda c: len(c.items))


class CollectionRunFactory(factory.django.DjangoModelFactory[CollectionRun]):
    """A pending manual run of a collection, for now, costing what the service would say."""

    class Meta:
        model = CollectionRun

    collection = factory.SubFactory(CollectionFactory)
    slot = factory.LazyFunction(timezone.now)
    trigger = CollectionRun.Trigger.MANUAL
    items = factory.LazyAttribute(lambda r: r.collection.item_count)
    cost = factory.LazyAttribute(lambda r: collection_cost(kind=r.collection.kind, items=r.items).total)
