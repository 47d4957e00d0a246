"""The analytics pages in a real headless Chromium: every chart draws from the npm Chart.js,
with no script error and no failed asset."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD, UserFactory
from credits import services
from credits.models import Operation
from credits.tests.factories import funded_user
from products.models import LookupLog

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None
        ),
    )
    return errors


def chart_totals(page, source_id: str) -> dict[str, float]:
    selector = f"canvas[data-chart='{source_id}']"
    page.wait_for_function(f'() => window.Chart && Chart.getChart(document.querySelector("{selector}"))')
    return dict(
        page.evaluate(
            f'() => Chart.getChart(document.querySelector("{selector}")).data.datasets'
            ".map(d => [d.label, d.data.reduce((a, b) => a + b, 0)])"
        )
    )


def test_the_users_analytics_page_draws_its_charts(browser_page, live_server, settings):
    settings.SIGNUP_FREE_CREDITS = 0
    page = browser_page
    user = funded_user(40)
    for _ in range(3):
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=uuid.uuid4().hex)
    LookupLog.objects.bulk_create(
        LookupLog(
            user=user,
            asin="B0000000AA",
            marketplace="US",
            channel="page",
            source=source,
            outcome="ok",
            credits=1,
            latency_ms=4.0,
            created_at=timezone.now(),
        )
        for source in ("cache", "cache", "upstream")
    )
    errors = watch_errors(page)
    sign_in(page, live_server.url, user)
    page.nav("Analytics")
    page.wait_for_url(f"{live_server.url}/analytics/")

    assert chart_totals(page, "usage-chart-data") == {"asin_lookup": 3}
    assert chart_totals(page, "sources-chart-data") == {"lookups": 3}
    assert chart_totals(page, "bulk-chart-data") == {"jobs": 0, "items": 0}
    page.shot("analytics-user")
    assert errors == []


def test_the_operators_page_draws_its_charts(browser_page, live_server):
    page = browser_page
    staff = UserFactory(is_staff=True, is_superuser=True)
    errors = watch_errors(page)
    sign_in(page, live_server.url, staff)
    page.goto(f"{live_server.url}/analytics/operators/")

    assert chart_totals(page, "signups-chart-data")["new users"] >= 1
    page.shot("analytics-operators")
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#today-figures")
    page.shot("admin-index")
    assert errors == []
