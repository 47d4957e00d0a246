"""Watchlist pages in headless Chromium: the cost preview follows the interval (htmx), the charts draw,
and nothing breaks the Content-Security-Policy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from config.tests.test_csp_browser import sign_in, visit, watch
from credits.tests.factories import funded_user
from watchlists.models import ItemSnapshot, Watchlist
from watchlists.tests.factories import AlertFactory
from watchlists.tests.helpers import ASIN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_user_creates_a_watchlist_adds_a_product_and_reads_its_charts(browser_page, live_server):
    page = browser_page
    problems = watch(page)
    user = funded_user(credits=100)
    base = live_server.url
    sign_in(page, base, user)

    visit(page, f"{base}/watchlists/", problems)
    page.fill("input[name=name]", "Kitchen deals")
    page.fill("input[name=items]", "3")
    page.select_option("select[name=interval]", "hourly")
    page.wait_for_selector("#cost-credits:has-text('2,160 credits a month')")
    page.shot("new-watchlist")
    page.get_by_role("button", name="Create watchlist").click()
    page.wait_for_selector("#watch-item-form")
    watchlist = Watchlist.objects.get(user=user)

    page.fill("#watch-item-form input[name=asin]", ASIN)
    page.fill("#watch-item-form input[name=price_below]", "20.00")
    page.get_by_role("button", name="Add product").click()
    page.wait_for_selector("#watch-items")
    assert "720 credits a month" in page.text_content("#cost-preview")

    # The edit form previews the new interval's cost before anything is saved.
    visit(page, f"{base}/watchlists/{watchlist.pk}/edit", problems)
    page.select_option("select[name=interval]", "weekly")
    page.wait_for_selector("#cost-credits:has-text('5 credits a month')")
    assert Watchlist.objects.get(pk=watchlist.pk).interval == "hourly"

    item = watchlist.items.get()
    start = timezone.now() - timedelta(hours=4)
    for hour, (price, rank) in enumerate([("25.00", 1500), ("19.50", 1200), ("17.25", 900), ("21.00", 1100)]):
        ItemSnapshot.objects.create(
            item=item,
            slot=start + timedelta(hours=hour),
            taken_at=start + timedelta(hours=hour),
            status="ok",
            currency="USD",
            price=Decimal(price),
            sales_rank=rank,
            in_stock=True,
        )
    AlertFactory(
        user=user,
        item=item,
        watchlist_name=watchlist.name,
        asin=ASIN,
        crossing=1,
        message=f"{ASIN} (US): price 19.50 USD is below 20.00 USD.",
    )
    visit(page, f"{base}/watchlists/{watchlist.pk}/items/{item.pk}/", problems, ready="#price-chart")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart('price-chart') && Chart.getChart('rank-chart')"
    )
    points = page.evaluate("Chart.getChart('price-chart').data.datasets[0].data.map((p) => p.y)")
    assert points == [25, 19.5, 17.25, 21]
    page.shot("item-charts")

    visit(page, f"{base}/watchlists/notifications/", problems)
    assert "1 unread" in page.text_content("#unread-count")
    page.get_by_role("button", name="Mark read").click()
    page.wait_for_selector("#unread-count:has-text('0 unread')")
    page.shot("notifications")
    assert problems == []
