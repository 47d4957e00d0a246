"""Bulk jobs in the admin (list, filters, items inline, cancel action) and the bulk settings' checks."""

import pytest
from django.core.checks import run_checks

from accounts.tests.factories import UserFactory
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from jobs.models import BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, asins, create_job, run_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_lists_filters_and_shows_a_job_with_its_items(admin_client):
    owner = funded_user(credits=10)
    job = run_job(create_job(owner, [*asins(2), NOT_FOUND]).pk)
    create_job(owner, asins(1, start=5))

    listing = admin_client.get("/admin/jobs/bulkjob/")
    completed = admin_client.get("/admin/jobs/bulkjob/?status__exact=completed")
    page = admin_client.get(f"/admin/jobs/bulkjob/{job.pk}/change/")

    assert listing.status_code == 200
    assert owner.email in listing.content.decode()
    assert completed.content.decode().count('class="field-status"') == 1
    html = page.content.decode()
    assert page.status_code == 200
    assert "Items (the first 200)" in html
    assert NOT_FOUND in html
    assert "product_not_found" in html
    assert admin_client.get("/admin/jobs/bulkjob/add/").status_code == 403


def test_the_old_admin_addresses_of_the_moved_models_redirect(admin_client):
    job = create_job(funded_user(credits=10), asins(1))

    moved = admin_client.get(f"/admin/products/bulkjob/{job.pk}/change/")
    listing = admin_client.get("/admin/products/bulkjob/?status__exact=queued")
    collections = admin_client.get("/admin/schedules/collectionrun/")

    assert moved.status_code == 301
    assert moved["Location"] == f"/admin/jobs/bulkjob/{job.pk}/change/"
    assert listing["Location"] == "/admin/jobs/bulkjob/?status__exact=queued"
    assert collections["Location"] == "/admin/jobs/collectionrun/"
    assert admin_client.get(moved["Location"]).status_code == 200
    assert admin_client.get("/admin/schedules/").status_code == 301
    assert admin_client.get("/admin/products/product/").status_code == 200  # products' own admin untouched


def test_the_admin_cancels_running_jobs_and_releases_their_credits(admin_client):
    owner = funded_user(credits=10)
    running = create_job(owner, asins(4))
    done = run_job(create_job(owner, asins(1, start=4)).pk)

    response = admin_client.post(
        "/admin/jobs/bulkjob/",
        {"action": "cancel_jobs", "_selected_action": [running.pk, done.pk]},
        follow=True,
    )

    assert "1 job(s) cancelled." in response.content.decode()
    assert BulkJob.objects.get(pk=running.pk).status == "cancelled"
    assert BulkJob.objects.get(pk=done.pk).status == "completed"
    assert balance_get(user=owner) == 9


def test_timings_that_would_redo_work_are_warned_about(settings):
    settings.BULK_CLAIM_TIMEOUT = 60

    ids = {message.id for message in run_checks()}

    assert "products.W101" in ids
    settings.BULK_CLAIM_TIMEOUT = 180
    assert "products.W101" not in {message.id for message in run_checks()}
