"""The watchlists factories make valid rows."""

import pytest

from watchlists.tests.factories import WatchItemFactory, WatchlistFactory

pytestmark = pytest.mark.django_db


def test_watchlists_and_items():
    watchlist = WatchlistFactory()
    items = WatchItemFactory.create_batch(2, watchlist=watchlist)

    assert list(watchlist.items.order_by("pk")) == items
    assert items[0].asin != items[1].asin
