"""The products factories make valid rows that charge nothing."""

import pytest

from products.tests.factories import LookupLogFactory, ProductFactory, ProductSnapshotFactory

pytestmark = pytest.mark.django_db


def test_products_snapshots_and_lookups():
    first, second = ProductFactory(), ProductFactory()
    snapshot = ProductSnapshotFactory(product=first)
    lookup = LookupLogFactory(asin=first.asin)

    assert first.asin != second.asin
    assert len(first.asin) == 10
    assert snapshot.product == first
    assert snapshot.provider == first.provider
    assert (lookup.asin, lookup.credits) == (first.asin, 0)
