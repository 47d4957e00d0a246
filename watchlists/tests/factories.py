"""Factories of the watchlists app's rows: watchlists and their items (no credits on either;
a refresh, which charges, is made by the refresh service)."""

import factory

from accounts.tests.factories import UserFactory
from watchlists.models import WatchItem, Watchlist


class WatchlistFactory(factory.django.DjangoModelFactory[Watchlist]):
    """A daily watchlist of the user's, due now."""

    class Meta:
        model = Watchlist

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Watchlist {n}")


class WatchItemFactory(factory.django.DjangoModelFactory[WatchItem]):
    """A watched ASIN with no alert conditions."""

    class Meta:
        model = WatchItem

    watchlist = factory.SubFactory(WatchlistFactory)
    asin = factory.Sequence(lambda n: f"B0WAT{n:05d}")
    marketplace = "US"
