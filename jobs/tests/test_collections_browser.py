"""The collections pages in a real headless Chromium with a real Celery worker: create a collection
from a textarea with a cost preview, save, run now, see the run complete, download its CSV."""

import re
import time
from pathlib import Path

import pytest

from accounts.tests.factories import PASSWORD
from credits.tests.factories import funded_user
from jobs.models import BulkJob, Collection, CollectionRun
from jobs.tests.bulk_helpers import asins

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]


def test_create_preview_save_run_and_download(browser_page, live_server, celery_workers):
    celery_workers.start("w1", env={"BULK_TASK_SECONDS": "2", "BULK_RETRY_DELAY": "0"})
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

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    page.nav("Collections")
    page.wait_for_url(f"{base}/collections/")
    page.get_by_role("link", name="New collection").click()

    page.fill("input[name=name]", "Weekly watch")
    page.select_option("select[name=schedule]", "weekly")
    page.fill("textarea[name=items]", ", ".join(asins(6)))
    page.get_by_role("button", name="Preview cost").click()
    page.wait_for_selector("#collection-preview")
    assert page.inner_text("#collection-preview-cost") == "6 credits"
    assert Collection.objects.count() == 0
    page.shot("preview")

    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/collections/\d+/$"))
    collection = Collection.objects.get()
    assert (collection.schedule, collection.item_count) == ("weekly", 6)

    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(f"{base}/collections/{collection.pk}/")
    run = CollectionRun.objects.get()
    assert run.job is not None
    deadline = time.monotonic() + 60
    while not BulkJob.objects.get(pk=run.job.pk).is_final:
        assert time.monotonic() < deadline, "the run's job did not finish"
        time.sleep(0.2)
    page.reload()
    assert "Completed" in page.inner_text(f"#run-{run.pk}")
    page.shot("run-completed")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    content = Path(download.value.path()).read_text()
    assert all(asin in content for asin in asins(6))
    assert errors == []
