"""Factories of the products app's rows: stored products, their snapshots and the lookups' log.

Rows carry no money: a ``LookupLog`` made here records 0 credits unless a test says otherwise
(the ledger's charge is made by the lookup service, never by a factory)."""

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from products.models import LookupLog, Product, ProductSnapshot


class ProductFactory(factory.django.DjangoModelFactory[Product]):
    """A stored product (sandbox provider), fetched now, with an empty record."""

    class Meta:
        model = Product

    asin = factory.Sequence(lambda n: f"B0FAC{n:05d}")
    marketplace = "US"
    title = factory.LazyAttribute(lambda p: f"Product {p.asin}")
    provider = "sandbox"
    record = factory.LazyFunction(dict)
    fetched_at = factory.LazyFunction(timezone.now)


class ProductSnapshotFactory(factory.django.DjangoModelFactory[ProductSnapshot]):
    class Meta:
        model = ProductSnapshot

    product = factory.SubFactory(ProductFactory)
    fetched_at = factory.LazyFunction(timezone.now)
    provider = factory.LazyAttribute(lambda s: s.product.provider)


class LookupLogFactory(factory.django.DjangoModelFactory[LookupLog]):
    """A logged lookup: an API lookup served from the cache, charging nothing."""

    class Meta:
        model = LookupLog

    user = factory.SubFactory(UserFactory)
    asin = "B000000001"
    marketplace = "US"
    channel = LookupLog.Channel.API
    source = LookupLog.Source.CACHE
    outcome = LookupLog.Outcome.OK
    credits = 0
    latency_ms = 5.0
