"""Watchlist pages in headless Chromium: the cost preview follows the interval (htmx), the charts draw,
and nothing breaks the Content-Security-Policy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from config.tests.phone import sideways
from config.tests.test_csp_browser import sign_in, visit, watch
from credits.tests.factories import funded_user
from watchlists.models import ItemSnapshot, Watchlist
from watchlists.tests.factories import AlertFactory, WatchItemFactory
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


def test_a_one_point_history_charts_around_its_date_on_a_phone(browser_page, live_server):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    problems = watch(page)
    user = funded_user(credits=10)
    base = live_server.url
    sign_in(page, base, user)
    item = WatchItemFactory(watchlist__user=user, marketplace="DE", price_below=Decimal("20.00"))
    taken = timezone.now() - timedelta(hours=2)
    ItemSnapshot.objects.create(
        item=item,
        slot=taken,
        taken_at=taken,
        status="ok",
        currency="EUR",
        price=Decimal("21.64"),
        sales_rank=1204,
        in_stock=True,
    )

    visit(page, f"{base}/watchlists/{item.watchlist_id}/", problems)
    assert "€21.64" in page.text_content("#watch-items")
    assert sideways(page) == []
    page.shot("watchlist-phone")

    visit(page, f"{base}/watchlists/{item.watchlist_id}/items/{item.pk}/", problems, ready="#price-chart")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart('price-chart') && Chart.getChart('rank-chart')"
    )
    point = taken.timestamp() * 1000
    for chart in ("price-chart", "rank-chart"):
        x = page.evaluate(f"[Chart.getChart('{chart}').scales.x.min, Chart.getChart('{chart}').scales.x.max]")
        # The axis spans the point's day, not years: the point in the middle, half a day either side.
        assert x[0] < point < x[1]
        assert x[1] - x[0] == pytest.approx(24 * 3600 * 1000)
        assert x[0] == pytest.approx(point - 12 * 3600 * 1000, abs=1000)
        # Its one tick is the point's own date.
        ticks = page.evaluate(f"Chart.getChart('{chart}').scales.x.ticks.map((t) => t.value)")
        assert ticks == [pytest.approx(point, abs=1000)]
    data = page.evaluate("Chart.getChart('price-chart').data.datasets[0].data")
    assert data == [{"x": pytest.approx(point, abs=1000), "y": 21.64}]
    assert page.evaluate("Chart.getChart('price-chart').data.datasets[0].pointRadius") > 0
    # The axis and the tooltip read as a price and a date, not as raw numbers.
    labels = page.evaluate(
        "(() => { const c = Chart.getChart('price-chart'); "
        "return c.scales.y.ticks.map((t) => t.label).concat(c.scales.x.ticks.map((t) => t.label)); })()"
    )
    assert any("€" in label for label in labels)
    assert not any(label.startswith("1") and len(label) >= 13 for label in labels)  # no epoch ms
    tooltip = page.evaluate(
        "(() => { const c = Chart.getChart('price-chart'); const cb = c.options.plugins.tooltip.callbacks; "
        "const item = {parsed: {x: c.data.datasets[0].data[0].x, y: 21.64}}; "
        "return [cb.title([item]), cb.label(item)]; })()"
    )
    assert str(taken.year) in tooltip[0]
    assert tooltip[1] == "Price (EUR): €21.64"
    # The thresholds are labelled number inputs with the currency's step and a help text.
    below = page.get_by_label("Price below")
    assert below.get_attribute("type") == "number"
    assert below.get_attribute("step") == "0.01"
    assert below.get_attribute("min") == "0.01"
    assert below.input_value() == "20.00"
    assert "In EUR" in page.text_content(f"#{below.get_attribute('aria-describedby')}")
    assert sideways(page) == []
    page.shot("item-one-point-phone")
    assert problems == []
