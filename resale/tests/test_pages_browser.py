"""The profit panel in a real headless Chromium on a phone (390 px): from the lookup page's
result to a calculated profit, the defaults page through the Account menu, htmx recalculation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from credits.selectors import balance_get
from credits.tests.factories import funded_user

PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
ASIN = "B08N5WRWNW"

FITS = """() => ({scrollWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
  wide: [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest(".table-scroll"))
    .slice(0, 6).map((el) => el.tagName + "#" + el.id + "." + el.className)})"""
AXE_RUN = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .filter((v) => ["serious", "critical"].includes(v.impact)).map((v) => v.id + ": " + v.help)"""


def _sign_in(page: Any, base: str, user: Any) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": base}])


def _fits_and_passes_axe(page: Any) -> None:
    facts = page.evaluate(FITS)
    assert facts["scrollWidth"] <= facts["viewport"], facts
    page.evaluate(AXE.read_text())
    assert page.evaluate(AXE_RUN) == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_profit_from_the_lookup_result_on_a_phone(browser_page, live_server, settings):
    settings.PRODUCT_PROVIDERS = ["sandbox"]
    page = browser_page
    base = live_server.url
    user = funded_user(credits=10)
    _sign_in(page, base, user)
    page.set_viewport_size(PHONE)

    page.goto(base + "/products/")
    page.get_by_label("ASIN or barcode").fill(ASIN)
    page.get_by_role("button", name="Look up").click()
    page.wait_for_selector("#profit-panel")
    assert balance_get(user=user) == 9  # the lookup
    _fits_and_passes_axe(page)
    page.shot("lookup-with-panel")

    page.locator("#profit-panel").get_by_label("Buy cost per unit (USD)").fill("5.00")
    page.locator("#profit-panel").get_by_label("Units").fill("3")
    page.locator("#profit-panel").get_by_role("button", name="Calculate").click()
    page.wait_for_selector("#profit-result")
    assert page.locator("#profit-result").get_attribute("data-status") == "ok"
    assert page.locator("#profit-value").inner_text().startswith("$")
    assert balance_get(user=user) == 8  # one calculation, priced as a lookup
    _fits_and_passes_axe(page)
    page.shot("profit-result")

    # On the profit page htmx recalculates in place: free while the product is fresh.
    page.locator("#profit-panel").get_by_label("Buy cost per unit (USD)").fill("9.00")
    page.locator("#profit-panel").get_by_role("button", name="Calculate").click()
    page.locator("#profit-credits", has_text="Not charged").wait_for()
    assert balance_get(user=user) == 8
    assert page.url == base + "/resale/profit"
    page.shot("profit-recalculated")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_defaults_page_through_the_account_menu_on_a_phone(browser_page, live_server):
    page = browser_page
    base = live_server.url
    user = funded_user(credits=0)
    _sign_in(page, base, user)
    page.set_viewport_size(PHONE)
    page.goto(base + "/")
    page.nav("Resale defaults")
    page.wait_for_url(base + "/resale/defaults")
    page.get_by_label("Prep per unit").fill("0.35")
    page.get_by_label("VAT-registered (EU and UK marketplaces)").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Resale defaults saved.")
    _fits_and_passes_axe(page)
    page.shot("defaults-saved")
    assert page.get_by_label("Prep per unit").input_value() == "0.35"


@pytest.mark.browser
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_bulk_profit_from_a_csv_on_a_phone(browser_page, live_server, celery_workers, tmp_path):
    from jobs.models import BulkJob
    from jobs.tests.bulk_helpers import asins
    from jobs.tests.test_bulk_worker import QUICK

    celery_workers.start("p1", env=QUICK)
    page = browser_page
    base = live_server.url
    user = funded_user(credits=10)
    _sign_in(page, base, user)
    page.set_viewport_size(PHONE)
    upload = tmp_path / "box.csv"
    first, second = asins(2, start=990)
    upload.write_text(f"asin;cost\n{first};4,50\n{second};\n")

    page.goto(base + "/bulk/")
    _fits_and_passes_axe(page)
    page.set_input_files("input[name=file]", str(upload))
    page.get_by_label("ASIN lookup with fees and profit").check()
    page.shot("bulk-profit-form")
    page.get_by_role("button", name="Upload and start").click()
    page.wait_for_url(f"{base}/bulk/*/")
    assert page.locator("#bulk-job-kind").inner_text().startswith("ASIN lookup with fees and profit")
    page.wait_for_function(
        "() => document.getElementById('job-percent').textContent.trim() === '100%'", timeout=60_000
    )
    page.reload()
    table = page.locator("#job-items-table").inner_text()
    assert "profit" in table  # the row with a cost: its profit and ROI
    assert "break-even at" in table  # the row without one: fees and the break-even cost
    _fits_and_passes_axe(page)
    page.shot("bulk-profit-job")
    job = BulkJob.objects.get(user=user)
    assert (job.kind, job.succeeded) == ("asin_profit", 2)
    assert balance_get(user=user) == 8
