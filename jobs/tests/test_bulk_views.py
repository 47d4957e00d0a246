"""The bulk jobs pages: upload form and list, job page with htmx progress, cancel, retry, downloads."""

import io

import pytest

from credits.selectors import balance_get
from credits.tests.factories import funded_user
from jobs.bulk import services
from jobs.models import BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, asins, create_job, run_job

pytestmark = pytest.mark.django_db
PAGE = "/bulk/"


def csv_file(data: bytes, name: str = "asins.csv") -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


@pytest.fixture
def user_credits():
    return 50


@pytest.fixture
def user(user, client):
    """The shared ``user``, signed in on ``client``."""
    client.force_login(user)
    return user


def test_the_pages_need_login(client):
    for url in (PAGE, "/bulk/1/", "/bulk/1/progress", "/bulk/1/results.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_page_has_the_upload_form_and_the_users_jobs(client, user):
    mine = create_job(user, asins(2))
    other = create_job(funded_user(credits=5), asins(1))

    response = client.get(PAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="bulk-upload-form"' in html
    assert 'enctype="multipart/form-data"' in html
    assert f'href="/bulk/{mine.pk}/"' in html
    assert f'href="/bulk/{other.pk}/"' not in html
    assert '<a href="/bulk/">Bulk</a>' in html  # the nav link


def test_uploading_a_csv_starts_a_job_and_opens_its_page(client, user):
    data = b"asin\n" + b"\n".join(a.encode() for a in asins(3)) + b"\nbad\n"

    response = client.post(PAGE, {"file": csv_file(data, "list.csv"), "marketplace": "DE"})

    job = BulkJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/bulk/{job.pk}/"
    assert (job.filename, job.params, job.total, job.invalid) == ("list.csv", {"marketplace": "DE"}, 4, 1)
    assert balance_get(user=user) == 47
    page = client.get(response["Location"]).content.decode()
    assert f"Job #{job.pk} queued: 3 items, 3 credits held." in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"\x00\x01\x02PK\x03\x04", "not a text CSV"),
        (b"asin\nnope\n", "No valid ASIN"),
    ],
)
def test_a_bad_upload_shows_the_reason_and_creates_nothing(client, user, data, message):
    response = client.post(PAGE, {"file": csv_file(data), "marketplace": "US"})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="bulk-error"' in html
    assert message in html
    assert "Nothing was created or charged." in html
    assert BulkJob.objects.count() == 0
    assert balance_get(user=user) == 50


def test_an_upload_the_balance_cannot_cover_offers_to_buy_credits(client, user):
    data = b"\n".join(a.encode() for a in asins(51))

    response = client.post(PAGE, {"file": csv_file(data), "marketplace": "US"})

    assert response.status_code == 402
    assert "Insufficient credits" in response.content.decode()
    assert "Buy credits" in response.content.decode()
    assert BulkJob.objects.count() == 0


def test_a_running_job_page_polls_its_progress_with_htmx(client, user):
    job = create_job(user, asins(4))

    html = client.get(f"/bulk/{job.pk}/").content.decode()

    assert 'src="/static/vendor/htmx/htmx.min.js"' in html
    assert f'hx-get="/bulk/{job.pk}/progress"' in html
    assert 'hx-trigger="every 1s"' in html
    assert 'id="job-progress-bar" max="4" value="0"' in html
    assert "Cancel job" in html
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200


def test_the_progress_partial_stops_polling_when_the_job_is_done(client, user):
    job = run_job(create_job(user, [*asins(3), NOT_FOUND, "nope"]).pk)

    response = client.get(f"/bulk/{job.pk}/progress", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # the section alone
    assert "hx-get" not in html
    assert 'id="job-percent">100%' in html
    assert 'id="job-succeeded">3<' in html
    assert 'id="job-failed">2 ' in html
    assert "3 used of 4 held; 1 given back to your balance" in html
    assert "No product with ASIN B000000404" in html  # the per-item errors
    assert "Retry failed items" in html
    assert f'href="/bulk/{job.pk}/results.csv"' in html
    assert f'href="/bulk/{job.pk}/results.json"' in html


def test_the_job_page_cancels_and_retries(client, user):
    job = create_job(user, asins(3))

    response = client.post(f"/bulk/{job.pk}/cancel", follow=True)

    assert "cancelled; 3 items were not processed" in response.content.decode()
    assert balance_get(user=user) == 50
    failed = run_job(create_job(user, [NOT_FOUND]).pk)
    response = client.post(f"/bulk/{failed.pk}/retry", follow=True)
    assert "1 failed items queued again" in response.content.decode()
    response = client.post(f"/bulk/{failed.pk}/retry", follow=True)
    assert "still running" in response.content.decode()


def test_downloads_and_another_users_job(client, user):
    job = run_job(create_job(user, asins(2)).pk)
    other = create_job(funded_user(credits=5), asins(1))

    csv_response = client.get(f"/bulk/{job.pk}/results.csv")
    json_response = client.get(f"/bulk/{job.pk}/results.json")

    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(csv_response.streaming_content).count(b"\n") == 3
    assert json_response["Content-Type"] == "application/json"
    assert client.get(f"/bulk/{job.pk}/results.xml").status_code == 404
    for url in (f"/bulk/{other.pk}/", f"/bulk/{other.pk}/progress", f"/bulk/{other.pk}/results.csv"):
        assert client.get(url).status_code == 404
    assert client.post(f"/bulk/{other.pk}/cancel").status_code == 404
    other.refresh_from_db()
    assert other.status == "queued"


def test_after_retention_the_page_says_so_and_offers_no_downloads(client, user):
    job = run_job(create_job(user, [*asins(2), NOT_FOUND]).pk)
    services.bulk_job_results_delete(job=job)
    job.refresh_from_db()
    notice = f"Results removed on {job.results_deleted_at:%Y-%m-%d} (retention)"

    for url in (f"/bulk/{job.pk}/", f"/bulk/{job.pk}/progress"):
        html = client.get(url).content.decode()
        assert notice in html
        assert 'id="job-results-removed"' in html
        assert "results.csv" not in html
        assert "results.json" not in html
        assert "Download" not in html
        assert "Retry failed items" not in html  # nothing left to deliver a retry into
        assert "No product with ASIN B000000404" in html  # the per-item errors stay
        assert 'id="job-succeeded">2<' in html


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_download_after_retention_is_410_with_the_reason(client, user, fmt):
    job = run_job(create_job(user, asins(1)).pk)
    services.bulk_job_results_delete(job=job)
    job.refresh_from_db()

    response = client.get(f"/bulk/{job.pk}/results.{fmt}")

    html = response.content.decode()
    assert response.status_code == 410
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    assert f"removed on {job.results_deleted_at:%Y-%m-%d} (retention)" in html
    assert 'id="results-gone"' in html
    assert f'href="/bulk/{job.pk}/"' in html
