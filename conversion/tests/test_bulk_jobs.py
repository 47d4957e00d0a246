"""Bulk conversion: FNSKU jobs on the bulk job engine (API, page, processing, exports)."""

import csv
import io

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import api_key_for
from conversion.models import Conversion
from conversion.tests.conftest import lookalike_pair
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from jobs.bulk import services as bulk_services
from jobs.models import BulkItem, BulkJob
from jobs.tests.bulk_helpers import assert_books_balance, run_job

pytestmark = pytest.mark.django_db

PRICE = 2  # fnsku_conversion


def api(user) -> APIClient:
    _, raw = api_key_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_json_list_becomes_a_conversion_job_that_charges_only_answers():
    user = funded_user(credits=20)

    response = api(user).post(
        "/api/v1/conversion/bulk",
        {"fnskus": ["B07N4M94X4", "X00NOTHING", "X00-BAD", "b07n4m94x4"], "marketplace": "US"},
        format="json",
    )

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "fnsku_conversion"
    assert response["Location"] == f"/api/v1/products/bulk/{body['id']}"
    job = run_job(body["id"])
    assert job.status == BulkJob.Status.COMPLETED
    items = {i.value or i.input: i for i in BulkItem.objects.filter(job=job)}
    assert items["B07N4M94X4"].status == BulkItem.Status.SUCCEEDED
    assert items["B07N4M94X4"].result["asin"] == "B07N4M94X4"
    assert items["X00NOTHING"].status == BulkItem.Status.FAILED
    assert items["X00NOTHING"].error_code == "fnsku_not_found"
    assert job.invalid == 1
    # Two valid distinct codes held at the conversion price; one delivered.
    assert job.credits_spent == PRICE
    assert balance_get(user=user) == 20 - PRICE
    assert_books_balance(job)

    results = api(user).get(f"/api/v1/products/bulk/{job.pk}/results?format=csv")
    text = b"".join(results.streaming_content).decode()
    assert "fnsku_conversion" not in text  # the results, not the job
    assert "B07N4M94X4" in text
    # The sandbox's answers are marked as sample data, in their own columns.
    rows = list(csv.DictReader(io.StringIO(text)))
    answered = next(row for row in rows if row.get("asin") == "B07N4M94X4")
    assert (answered["sample_data"], answered["provider"]) == ("true", "sandbox")


def test_the_label_text_column_reaches_the_resolver():
    user = funded_user(credits=20)
    asin_a, title_a, _, _ = lookalike_pair()
    # Quoted: the title has a comma, which would otherwise cut the label text short.
    csv_bytes = f'fnsku,label_text\nX001LABELA,"{title_a} New"\nX001NOLABL,\n'.encode()

    response = api(user).post(
        "/api/v1/conversion/bulk",
        {"file": io.BytesIO(csv_bytes), "marketplace": "US"},
        format="multipart",
    )

    assert response.status_code == 202, response.content
    job = run_job(response.json()["id"])
    items = {i.value: i for i in BulkItem.objects.filter(job=job)}
    assert items["X001LABELA"].status == BulkItem.Status.SUCCEEDED
    assert items["X001LABELA"].result["asin"] == asin_a
    # Without a printed name an unknown X0 code has nothing to go on.
    assert items["X001NOLABL"].status == BulkItem.Status.FAILED
    assert items["X001NOLABL"].error_code == "fnsku_not_found"
    assert_books_balance(job)


def test_a_redelivered_chunk_logs_and_resolves_each_item_once():
    user = funded_user(credits=10)
    job = bulk_services.bulk_job_create_from_list(
        user=user, kind="fnsku_conversion", values=["B07N4M94X4", "B08N5WRWNW"], params={"marketplace": "US"}
    )
    from conversion.bulk import bulk_kind
    from jobs.bulk.kinds import ClaimedItem, JobContext

    items = [
        ClaimedItem(id=i.pk, row=i.row, value=i.value, attempts=1) for i in BulkItem.objects.filter(job=job)
    ]
    context = JobContext(
        job_id=job.pk,
        user_id=user.pk,
        kind="fnsku_conversion",
        params={"marketplace": "US"},
        item_price=PRICE,
    )

    first = bulk_kind().process(context, items)
    again = bulk_kind().process(context, items)

    assert {k: v.result for k, v in first.items()} == {k: v.result for k, v in again.items()}
    assert Conversion.objects.filter(user=user, channel="bulk").count() == 2


def test_no_credits_creates_nothing():
    user = funded_user(credits=1)

    response = api(user).post("/api/v1/conversion/bulk", {"fnskus": ["B07N4M94X4"]}, format="json")

    assert response.status_code == 402
    assert not BulkJob.objects.filter(user=user).exists()
    assert balance_get(user=user) == 1


def test_a_file_over_the_size_limit_is_413_and_creates_nothing(settings):
    settings.BULK_MAX_UPLOAD_BYTES = 1000
    user = funded_user(credits=10)
    upload = io.BytesIO(b"fnsku\n" + b"X001ABCDEF\n" * 100)  # 1.1 KB
    upload.name = "labels.csv"

    response = api(user).post("/api/v1/conversion/bulk", {"file": upload}, format="multipart")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert not BulkJob.objects.filter(user=user).exists()
    assert balance_get(user=user) == 10


def test_a_list_over_the_row_limit_is_refused_before_its_entries_are_read(settings):
    settings.BULK_MAX_ROWS = 50
    user = funded_user(credits=200)
    fnskus = [f"X00{n:07d}" for n in range(51)]

    response = api(user).post("/api/v1/conversion/bulk", {"fnskus": fnskus}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_rows"
    assert "limit is 50" in response.json()["error"]["message"]
    assert not BulkJob.objects.filter(user=user).exists()
    assert balance_get(user=user) == 200


def test_the_convert_page_starts_a_bulk_conversion(client):
    user = funded_user(credits=10)
    client.force_login(user)
    upload = io.BytesIO(b"fnsku\nB07N4M94X4\n")
    upload.name = "labels.csv"

    response = client.post("/convert/bulk/", {"file": upload, "marketplace": "US"})

    job = BulkJob.objects.get(user=user)
    assert job.kind == "fnsku_conversion"
    assert response.status_code == 302
    assert response["Location"] == f"/bulk/{job.pk}/"
    assert "Convert a CSV file" in client.get("/convert/").content.decode()


def test_the_convert_page_explains_a_bad_file(client):
    user = funded_user(credits=10)
    client.force_login(user)
    upload = io.BytesIO(b"")
    upload.name = "empty.csv"

    response = client.post("/convert/bulk/", {"file": upload, "marketplace": "US"}, follow=True)

    assert not BulkJob.objects.filter(user=user).exists()
    assert 'class="message error"' in response.content.decode()
