"""The back office lists watchlists, items, refreshes and alerts."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from watchlists import services
from watchlists.tests.factories import AlertFactory
from watchlists.tests.helpers import ASIN

pytestmark = pytest.mark.django_db


def test_admin_pages_list_watchlists_and_alerts():
    admin = UserFactory(is_staff=True, is_superuser=True)
    owner = UserFactory()
    watchlist = services.watchlist_create(user=owner, name="Owner's deals")
    item = services.watch_item_add(watchlist=watchlist, asin=ASIN)
    AlertFactory(
        user=owner,
        item=item,
        watchlist_name=watchlist.name,
        asin=ASIN,
        crossing=1,
        message="B0TESTKEEP (US): price 9.99 USD is below 10.00 USD.",
    )
    client = Client()
    client.force_login(admin)
    for url, text in [
        ("/admin/watchlists/watchlist/", "Owner&#x27;s deals"),
        (f"/admin/watchlists/watchlist/{watchlist.pk}/change/", ASIN),
        ("/admin/watchlists/watchitem/", ASIN),
        ("/admin/watchlists/itemsnapshot/", "0 item snapshots"),
        ("/admin/watchlists/alert/", "price_below"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
