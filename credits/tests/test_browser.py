"""The credits page in a real headless Chromium: the chart draws from the npm
Chart.js, the threshold form and the CSV export work."""

import pytest

from accounts.tests.factories import PASSWORD
from credits import services
from credits.models import Operation
from credits.tests.factories import funded_user, new_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_credits_page_chart_threshold_and_export(browser_page, live_server):
    page = browser_page
    base = live_server.url
    user = funded_user(40)
    for _ in range(3):
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    services.credits_charge(user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=new_key())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Every asset the page asks for loads (the browser's own favicon probe aside).
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None
        ),
    )

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    page.nav("Credits")
    page.wait_for_url(f"{base}/credits/")

    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('usage-chart'))")
    datasets = page.evaluate(
        "() => Chart.getChart(document.getElementById('usage-chart')).data.datasets"
        ".map(d => [d.label, d.data[d.data.length - 1]])"
    )
    assert sorted(datasets) == [["ASIN lookup", 3], ["FNSKU conversion", 2]]
    assert page.locator("#credit-balance").inner_text().startswith("35")
    page.shot("credits")

    page.fill("input[name=threshold]", "50")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("#low-balance-notice")
    page.shot("low-balance")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    lines = download_info.value.path().read_text().splitlines()
    assert lines[0].startswith("id,created_at,kind,amount")
    assert len(lines) == 1 + 5
    assert errors == []


def test_ledger_times_follow_the_browsers_time_zone(browser_page, live_server):
    page = browser_page
    base = live_server.url
    user = funded_user(5)
    services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/credits/")  # app.js has set the tz cookie by now

    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies["tz"] == "Asia/Tokyo"
    first_line = page.locator("#transactions tbody tr").first.inner_text()
    assert "JST" in first_line
    assert "ASIN lookup" in first_line
