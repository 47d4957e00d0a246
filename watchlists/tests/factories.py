"""Factories of the watchlists app's rows: watchlists and their items (no credits on either;
a refresh, which charges, is made by the refresh service)."""

import factory

from accounts.tests.factories import UserFactory
from watchlists.models import Alert, Condition, WatchItem, Watchlist


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


class AlertFactory(factory.django.DjangoModelFactory[Alert]):
    """A price-below alert (the first crossing) of an item, for the item's owner."""

    class Meta:
        model = Alert

    item = factory.SubFactory(WatchItemFactory)
    user = factory.SelfAttribute("item.watchlist.user")
    watchlist_name = factory.SelfAttribute("item.watchlist.name")
    asin = factory.SelfAttribute("item.asin")
    marketplace = factory.SelfAttribute("item.marketplace")
    condition = Condition.PRICE_BELOW
    crossing = 1
    message = factory.LazyAttribute(lambda a: f"{a.asin} ({a.marketplace}): price $9.99 is below $10.00.")
