"""The bulk jobs page in a real headless Chromium, with a real Celery worker doing the job:
upload a CSV, watch the progress bar fill (htmx from npm, no reload) to 100%, download the results."""

import re

import pytest

from accounts.tests.factories import PASSWORD
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from jobs.models import BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, asins
from jobs.tests.test_bulk_worker import QUICK

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]


def test_upload_a_csv_and_watch_the_job_reach_100_percent(
    browser_page, live_server, celery_workers, tmp_path
):
    # Slow enough to see the bar move: batches of 8 ASINs, 0.7 s each.
    celery_workers.start("w1", env={**QUICK, "SANDBOX_LATENCY_MS": "700", "BULK_CHUNK_SIZE": "8"})
    page = browser_page
    base = live_server.url
    user = funded_user(credits=100)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None
        ),
    )
    upload = tmp_path / "my asins.csv"
    upload.write_text(
        "Title;ASIN\n"
        + "".join(f"Item {i};{a}\n" for i, a in enumerate(asins(40)))
        + f"Gone;{NOT_FOUND}\nOops;nope\n"
    )

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    page.nav("Bulk")
    page.wait_for_url(f"{base}/bulk/")
    page.set_input_files("input[name=file]", str(upload))
    page.select_option("select[name=marketplace]", "UK")
    page.shot("upload-form")
    page.get_by_role("button", name="Upload and start").click()

    page.wait_for_url(re.compile(r".*/bulk/\d+/$"))
    job = BulkJob.objects.get()
    assert page.locator(".message.success").inner_text().startswith(f"Job #{job.pk} queued: 41 items")
    first = int(page.locator("#job-progress-bar").get_attribute("value"))
    assert first < 42  # the page opened while the job was still running
    # The bar moves without a reload: htmx swaps the progress section in every second.
    page.wait_for_function(
        "(v) => Number(document.getElementById('job-progress-bar').value) > v && "
        "Number(document.getElementById('job-progress-bar').value) < 42",
        arg=first,
        timeout=30_000,
    )
    page.shot("in-progress")
    assert page.locator("#job-status").inner_text() == "Running"
    page.wait_for_function(
        "() => document.getElementById('job-percent').textContent.trim() === '100%'", timeout=60_000
    )
    page.shot("done")

    assert page.locator("#job-status").inner_text() == "Completed"
    assert page.locator("#job-succeeded").inner_text() == "40"
    assert page.locator("#job-failed").inner_text().startswith("2")
    assert "given back to your balance" in page.locator("#job-credits").inner_text()
    # The items not delivered, with their reasons: the items table, filtered (htmx swaps it in).
    items = page.locator("#job-items")
    items.get_by_role("link", name=re.compile(r"^Failed")).click()
    page.wait_for_function("() => document.getElementById('job-items').dataset.statusFilter === 'failed'")
    assert NOT_FOUND in page.locator("#job-items-table").inner_text()
    items.get_by_role("link", name=re.compile(r"^Invalid")).click()
    page.wait_for_function("() => document.getElementById('job-items').dataset.statusFilter === 'invalid'")
    assert "nope" in page.locator("#job-items-table").inner_text()
    assert page.get_by_role("button", name="Retry failed items").is_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    lines = download_info.value.path().read_text().splitlines()
    assert lines[0].startswith("row,input,asin,marketplace,status")
    assert len(lines) == 1 + 42
    assert balance_get(user=user) == 100 - 40
    assert errors == []
