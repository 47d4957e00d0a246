"""The bulk job page's items table in a real headless Chromium on a phone-sized screen (390 x 844):
it fits the width, and its pager and filters swap the table in with htmx (the address follows)."""

import re

import pytest

from accounts.tests.factories import PASSWORD
from credits.tests.factories import funded_user
from jobs.models import BulkItem
from jobs.tests.bulk_helpers import NOT_FOUND, OUTAGE, asins, create_job, run_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FITS = "document.documentElement.scrollWidth <= window.innerWidth"
LONG_INPUT = "not-an-asin-but-a-very-long-value-someone-pasted-by-mistake-into-the-file"


def rows(page) -> list[str]:
    return page.locator("#job-items-table tbody tr").evaluate_all("trs => trs.map(tr => tr.dataset.row)")


def test_the_job_page_with_its_items_fits_a_phone_and_pages_with_htmx(browser_page, live_server):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    base = live_server.url
    user = funded_user(credits=100)
    # Processed in this process (no worker): 61 delivered, one unknown, one invalid, one waiting for a retry.
    job = run_job(create_job(user, [*asins(60), NOT_FOUND, LONG_INPUT, OUTAGE, asins(1, start=60)[0]]).pk)
    assert BulkItem.objects.get(job=job, value=OUTAGE).status == "pending"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
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
    page.goto(f"{base}/bulk/{job.pk}/")

    assert rows(page) == [str(n) for n in range(1, 51)]
    assert "1 item is being retried after an error" in page.locator("#job-retrying").inner_text()
    assert page.evaluate(FITS), page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    page.shot("phone-first-page")

    page.locator("#job-items").get_by_role("link", name="Next →").click()
    page.wait_for_function("() => document.querySelector('#job-items-table tbody tr').dataset.row === '51'")
    assert rows(page) == [str(n) for n in range(51, 65)]
    assert page.url.endswith("?status=all&page=2")  # htmx pushed the address: reload and back work
    assert page.locator("#job-items-table").inner_text().count("retrying (attempt 2 of 5)") == 1
    assert page.evaluate(FITS)
    page.shot("phone-second-page")

    page.locator("#job-items").get_by_role("link", name=re.compile(r"^Invalid")).click()
    page.wait_for_function("() => document.getElementById('job-items').dataset.statusFilter === 'invalid'")
    assert rows(page) == ["62"]
    assert LONG_INPUT in page.locator("#job-items-table").inner_text()
    assert page.evaluate(FITS)
    page.shot("phone-invalid")

    # Without htmx's swap: the same filter as a plain page load.
    page.goto(f"{base}/bulk/{job.pk}/?status=failed")
    assert rows(page) == ["61"]
    assert NOT_FOUND in page.locator("#job-items-table").inner_text()
    assert errors == []
