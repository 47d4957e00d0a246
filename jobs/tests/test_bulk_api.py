"""The bulk jobs API: create (JSON or CSV), see, cancel, retry, results; errors and ownership."""

import codecs
import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse
from rest_framework.test import APIClient

from core.errors import ConflictError
from credits.models import CreditHold
from credits.selectors import balance_get
from credits.services import credits_grant
from credits.tests.factories import funded_user
from jobs.bulk import exports, services
from jobs.models import BulkItem, BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, OUTAGE, asins, assert_books_balance, create_job, run_job

pytestmark = pytest.mark.django_db
BULK = "/api/v1/products/bulk"


def upload(api, data: bytes, name: str = "asins.csv", **extra):
    file = io.BytesIO(data)
    file.name = name
    return api.post(BULK, {"file": file, **extra}, format="multipart")


def assert_nothing_created(user, balance: int = 100):
    assert BulkJob.objects.count() == 0
    assert CreditHold.objects.count() == 0
    assert balance_get(user=user) == balance


# --- Creating ---------------------------------------------------------------------------------


def test_a_json_list_creates_a_queued_job_with_its_credits_held(api, user):
    response = api.post(
        BULK, {"asins": [*asins(3), "bad", asins(1)[0].lower()], "marketplace": "de"}, format="json"
    )

    assert response.status_code == 202, response.content
    body = response.json()
    job = BulkJob.objects.get()
    assert response["Location"] == f"{BULK}/{job.pk}"
    assert body["id"] == job.pk
    assert {k: body[k] for k in ("status", "kind", "marketplace", "source", "total", "processed")} == {
        "status": "queued",
        "kind": "asin_lookup",
        "marketplace": "DE",
        "source": "list",
        "total": 4,
        "processed": 1,
    }
    assert {k: body[k] for k in ("succeeded", "failed", "invalid", "cancelled", "duplicates")} == {
        "succeeded": 0,
        "failed": 1,
        "invalid": 1,
        "cancelled": 0,
        "duplicates": 1,
    }
    assert {
        k: body[k] for k in ("credits_held", "credits_spent", "credits_reserved", "credits_released")
    } == {
        "credits_held": 3,
        "credits_spent": 0,
        "credits_reserved": 3,
        "credits_released": 0,
    }
    assert body["created_at"]
    assert body["started_at"] is None
    assert body["finished_at"] is None
    assert body["progress"]["percent"] == 25
    assert body["links"]["results_csv"] == f"{BULK}/{job.pk}/results?format=csv"
    assert balance_get(user=user) == 97


def test_a_csv_upload_creates_a_job(api, user):
    data = codecs.BOM_UTF8 + b"Title;ASIN\r\nLamp;b08n5wrwnw\r\n\r\nBottle;B000000001\r\nBad;x\r\n"

    response = upload(api, data, name="my list.csv", marketplace="UK")

    assert response.status_code == 202, response.content
    job = BulkJob.objects.get()
    assert (job.source, job.filename, job.params, job.total, job.invalid) == (
        "csv",
        "my list.csv",
        {"marketplace": "UK"},
        3,
        1,
    )
    rows = list(BulkItem.objects.filter(job=job).order_by("row").values_list("row", "value", "status"))
    assert rows == [(2, "B08N5WRWNW", "pending"), (4, "B000000001", "pending"), (5, "", "invalid")]
    assert balance_get(user=user) == 98


def test_the_same_idempotency_key_returns_the_same_job(api, user):
    first = api.post(BULK, {"asins": asins(2)}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(BULK, {"asins": asins(2)}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = api.post(BULK, {"asins": asins(3)}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert balance_get(user=user) == 98


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", "empty_file", "empty"),
        (b"asin\r\n\r\n", "empty_file", "only a header"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary_file", "binary data"),
        (codecs.BOM_UTF8 + b"asin\nB08N5WRWNW\xff\xfe\n", "undecodable_file", "not valid UTF-8"),
        (b'asin,title\nB08N5WRWNW,"never closed\n', "malformed_csv", "row 2"),
        (b"asin\nnope\nB0SHORT\n", "no_valid_items", "No valid ASIN"),
    ],
)
def test_a_broken_csv_is_a_clear_400_and_creates_nothing(api, user, data, code, words):
    response = upload(api, data)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    assert_nothing_created(user)


def test_invalid_rows_are_listed_when_none_is_valid(api, user):
    response = upload(api, b"asin\nnope\nB0SHORT\n")

    assert [row["row"] for row in response.json()["error"]["detail"]["rows"]] == [2, 3]


def test_a_csv_over_the_size_limit_is_refused(api, user, settings):
    settings.BULK_MAX_UPLOAD_BYTES = 100_000
    response = upload(api, b"B08N5WRWNW\n" * 20_000)  # 220 KB: refused from its Content-Length

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert_nothing_created(user)


def test_a_csv_just_over_the_size_limit_is_refused(api, user, settings):
    settings.BULK_MAX_UPLOAD_BYTES = 1000
    response = upload(api, b"B08N5WRWNW\n" * 100)  # 1,100 bytes: within the envelope allowance

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert_nothing_created(user)


def test_a_csv_with_too_many_rows_is_refused(api, user, settings):
    settings.BULK_MAX_ROWS = 50
    response = upload(api, b"".join(b"%s\n" % a.encode() for a in asins(51)))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_rows"
    assert "limit is 50" in response.json()["error"]["message"]
    assert_nothing_created(user)


def test_a_json_body_over_the_size_limit_is_refused_unread(api, user, settings):
    settings.BULK_MAX_UPLOAD_BYTES = 1000

    response = api.post(BULK, {"asins": asins(100)}, format="json")  # 1.4 KB

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert_nothing_created(user)


def test_a_json_list_over_the_limit_is_refused(api, user, settings):
    settings.BULK_MAX_ROWS = 50

    response = api.post(BULK, {"asins": asins(51)}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_rows"
    assert_nothing_created(user)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"asins": []}, "empty_list"),
        ({"asins": ["", " "]}, "empty_list"),
        ({"asins": "B08N5WRWNW"}, "invalid"),
        ({}, "invalid"),
    ],
)
def test_a_bad_json_body_is_a_400(api, user, body, code):
    response = api.post(BULK, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert_nothing_created(user)


def test_a_multipart_request_without_a_file_is_a_400(api, user):
    response = api.post(BULK, {"marketplace": "US"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_file"
    assert_nothing_created(user)


def test_not_enough_credits_is_402_and_creates_nothing(api, user):
    response = api.post(BULK, {"asins": asins(101)}, format="json")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["detail"]["price"] == 101
    assert error["detail"]["balance"] == 100
    assert_nothing_created(user)


def test_the_api_needs_authentication():
    assert APIClient().get(BULK).status_code == 401
    assert APIClient().post(BULK, {"asins": asins(1)}, format="json").status_code == 401


# --- Seeing, cancelling, retrying -------------------------------------------------------------------


def test_a_job_is_seen_with_its_counts_as_it_finishes(api, user):
    job_id = api.post(BULK, {"asins": [*asins(4), NOT_FOUND]}, format="json").json()["id"]
    run_job(job_id)

    body = api.get(f"{BULK}/{job_id}").json()

    assert {k: body[k] for k in ("status", "total", "processed", "succeeded", "failed")} == {
        "status": "completed",
        "total": 5,
        "processed": 5,
        "succeeded": 4,
        "failed": 1,
    }
    assert (body["credits_held"], body["credits_spent"], body["credits_released"]) == (5, 4, 1)
    assert body["progress"] == {
        "percent": 100,
        "remaining": 0,
        "items_per_minute": None,
        "eta_seconds": None,
        "retrying": 0,
        "next_retry_seconds": None,
    }
    assert body["finished_at"]


def test_the_list_has_the_callers_jobs_only(api, user):
    mine = [create_job(user, asins(1)).pk, create_job(user, asins(1, start=1)).pk]
    create_job(funded_user(credits=5), asins(1))

    body = api.get(BULK).json()

    assert body["count"] == 2
    assert [job["id"] for job in body["results"]] == mine[::-1]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("post", "/cancel"),
        ("post", "/retry"),
        ("get", "/results?format=csv"),
        ("get", "/results"),
    ],
)
def test_another_users_job_is_404_on_every_endpoint(api, method, suffix):
    other = create_job(funded_user(credits=5), asins(2))

    response = getattr(api, method)(f"{BULK}/{other.pk}{suffix}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"
    other.refresh_from_db()
    assert other.status == "queued"


def test_cancel_releases_the_credits_of_what_is_left(api, user):
    job = create_job(user, asins(5))

    response = api.post(f"{BULK}/{job.pk}/cancel")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["cancelled"], body["credits_spent"], body["credits_released"]) == (
        "cancelled",
        5,
        0,
        5,
    )
    assert balance_get(user=user) == 100
    assert api.post(f"{BULK}/{job.pk}/cancel").status_code == 200  # already cancelled: the same answer
    assert_books_balance(job)


def test_a_finished_job_cannot_be_cancelled(api, user):
    job = run_job(create_job(user, asins(1)).pk)

    response = api.post(f"{BULK}/{job.pk}/cancel")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_finished"


def test_retry_queues_the_failed_items_again(api, user):
    job = run_job(create_job(user, [*asins(2), NOT_FOUND]).pk)

    response = api.post(f"{BULK}/{job.pk}/retry")

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["run"], body["failed"], body["credits_held"]) == ("queued", 2, 0, 4)
    assert api.post(f"{BULK}/{job.pk}/retry").json()["error"]["code"] == "job_running"


# --- Results ----------------------------------------------------------------------------------


def finished_job(user):
    return run_job(create_job(user, [*asins(2), NOT_FOUND, "not-an-asin"], marketplace="DE").pk)


def test_results_as_csv_have_every_item_with_its_record_or_error(api, user):
    job = finished_job(user)

    response = api.get(f"{BULK}/{job.pk}/results?format=csv")

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="bulk-job-{job.pk}-results.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["row"], r["asin"], r["marketplace"], r["status"], r["error_code"]) for r in rows] == [
        ("1", asins(1)[0], "DE", "succeeded", ""),
        ("2", asins(2)[1], "DE", "succeeded", ""),
        ("3", NOT_FOUND, "DE", "failed", "product_not_found"),
        ("4", "", "DE", "invalid", "invalid_input"),
    ]
    delivered = BulkItem.objects.get(job=job, row=1).result
    assert rows[0]["title"] == delivered["title"]
    assert rows[0]["title"].startswith("[SAMPLE]")
    assert rows[0]["price"] == delivered["price"]["amount"]
    assert rows[0]["currency"] == "EUR"
    assert rows[0]["sales_rank"] == str(delivered["sales_rank"]["rank"])
    assert rows[0]["credits"] == "1"
    assert rows[2]["credits"] == "0"
    assert rows[3]["input"] == "not-an-asin"
    assert "exactly 10 characters" in rows[3]["error"]
    assert rows[2]["title"] == ""


def test_results_as_json_are_the_jobs_summary_then_every_item(api, user):
    job = finished_job(user)

    response = api.get(f"{BULK}/{job.pk}/results?format=json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = json.loads(b"".join(response.streaming_content))
    assert set(body) == {"job", "results"}
    items = body["results"]
    assert [item["status"] for item in items] == ["succeeded", "succeeded", "failed", "invalid"]
    assert items[0]["result"]["asin"] == asins(1)[0]
    assert items[0]["error"] is None
    assert items[0]["credits"] == 1
    assert items[2]["error"]["code"] == "product_not_found"
    assert items[2]["result"] is None
    assert set(items[0]) == {"row", "input", "value", "status", "attempts", "credits", "error", "result"}
    # The job as GET /bulk/{id} gives it, with its parameters.
    summary = body["job"]
    assert summary == {**api.get(f"{BULK}/{job.pk}").json(), "params": {"marketplace": "DE"}}
    assert {
        k: summary[k] for k in ("id", "kind", "status", "marketplace", "total", "succeeded", "failed")
    } == {
        "id": job.pk,
        "kind": "asin_lookup",
        "status": "completed",
        "marketplace": "DE",
        "total": 4,
        "succeeded": 2,
        "failed": 2,
    }
    assert (summary["invalid"], summary["credits_held"], summary["credits_spent"]) == (1, 3, 2)
    assert summary["created_at"]
    assert summary["finished_at"] == job.finished_at.isoformat().replace("+00:00", "Z")


def test_the_json_results_of_a_running_job_say_it_is_running(api, user):
    job = create_job(user, asins(2))

    body = json.loads(b"".join(api.get(f"{BULK}/{job.pk}/results?format=json").streaming_content))

    assert (body["job"]["status"], body["job"]["finished_at"], body["job"]["credits_reserved"]) == (
        "queued",
        None,
        2,
    )
    assert [item["status"] for item in body["results"]] == ["pending", "pending"]


def test_the_progress_says_when_items_are_being_retried(api, user, settings):
    settings.BULK_RETRY_DELAY = 120
    settings.BULK_RETRY_DELAY_MAX = 600
    job = create_job(user, [*asins(3), OUTAGE])
    services.bulk_job_work(job_id=job.pk, time_budget=0)

    progress = api.get(f"{BULK}/{job.pk}").json()["progress"]

    assert (progress["percent"], progress["remaining"], progress["retrying"]) == (75, 1, 1)
    assert 100 < progress["next_retry_seconds"] <= 120
    assert progress["eta_seconds"] >= progress["next_retry_seconds"]  # not the pace of the other three


def test_results_follow_the_accept_header(api, user):
    job = finished_job(user)

    response = api.get(f"{BULK}/{job.pk}/results", HTTP_ACCEPT="text/csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_a_formula_in_a_cell_is_neutralised(api, user):
    job = run_job(create_job(user, ["=HYPERLINK(1)", asins(1)[0]]).pk)

    rows = list(
        csv.reader(
            io.StringIO(b"".join(api.get(f"{BULK}/{job.pk}/results?format=csv").streaming_content).decode())
        )
    )

    assert rows[1][1] == "'=HYPERLINK(1)"


def test_a_big_export_is_streamed_in_pieces_not_built_in_memory(api, user, settings):
    settings.BULK_MAX_ROWS = 2000
    credits_grant(user=user, amount=1200, reason="a big job")
    job = create_job(user, asins(1200))
    BulkItem.objects.filter(job=job).update(status="succeeded", credits=1, result={"title": "t", "asin": "x"})

    for fmt in ("csv", "json"):
        response = api.get(f"{BULK}/{job.pk}/results?format={fmt}")
        assert isinstance(response, StreamingHttpResponse)
        pieces = iter(response.streaming_content)
        head = [next(pieces), next(pieces)]  # the header (or the job's summary), then the first batch
        # They went out before the last rows were even read.
        assert asins(1)[0].encode() in head[1]
        assert asins(1200)[-1].encode() not in b"".join(head)
        rest = list(pieces)
        assert len(rest) >= 2
        assert asins(1200)[-1].encode() in rest[-1]
        first = head[0]
        if fmt == "json":
            assert first.startswith(b'{"job":{"id":')
            assert first.endswith(b',"results":[')
        assert max(len(p) for p in [first, *rest]) < 200_000


def test_exports_read_items_in_batches_from_an_iterator(user, monkeypatch):
    job = create_job(user, asins(3))
    seen = {}
    original = exports._items

    def spy(j):
        iterator = original(j)
        seen["type"] = type(iterator).__name__
        return iterator

    monkeypatch.setattr(exports, "_items", spy)

    list(exports.results_csv(job))

    assert seen["type"] == "generator"  # QuerySet.iterator(): batches from a cursor, never the whole table


# --- After retention ------------------------------------------------------------------------------


def test_the_job_says_when_its_results_were_removed(api, user):
    job = finished_job(user)
    assert api.get(f"{BULK}/{job.pk}").json()["results_deleted_at"] is None

    services.bulk_job_results_delete(job=job)

    job.refresh_from_db()
    body = api.get(f"{BULK}/{job.pk}").json()
    assert body["results_deleted_at"] == job.results_deleted_at.isoformat().replace("+00:00", "Z")
    assert body["status"] == "completed"  # the record stays
    listed = api.get(BULK).json()["results"][0]
    assert listed["results_deleted_at"] == body["results_deleted_at"]


@pytest.mark.parametrize(
    ("query", "accept"),
    [("?format=csv", None), ("?format=json", None), ("", "text/csv"), ("", None)],
)
def test_exports_after_the_results_were_removed_are_410(api, user, query, accept):
    job = finished_job(user)
    services.bulk_job_results_delete(job=job)
    job.refresh_from_db()
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    response = api.get(f"{BULK}/{job.pk}/results{query}", **headers)

    assert response.status_code == 410
    assert not isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "results_expired"
    assert f"removed on {job.results_deleted_at:%Y-%m-%d} (retention)" in error["message"]
    assert error["detail"] == {"results_deleted_at": job.results_deleted_at.isoformat()}


def test_a_job_whose_results_were_removed_is_not_retried(api, user):
    job = finished_job(user)
    services.bulk_job_results_delete(job=job)

    response = api.post(f"{BULK}/{job.pk}/retry")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "results_expired"
    job.refresh_from_db()
    assert job.run == 1


def test_deleting_the_results_of_a_running_job_is_refused(api, user):
    job = create_job(user, asins(2))

    with pytest.raises(ConflictError):
        services.bulk_job_results_delete(job=job)

    job.refresh_from_db()
    assert job.results_deleted_at is None
    assert api.get(f"{BULK}/{job.pk}").json()["results_deleted_at"] is None


def test_the_schema_declares_the_json_results_as_the_job_then_its_items():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    components = schema["components"]["schemas"]
    for path in (
        "/api/v1/products/bulk/{job_id}/results",
        "/api/v1/collections/{collection_id}/runs/{run_id}/results",
    ):
        json_body = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert json_body["schema"]["$ref"] == "#/components/schemas/BulkJobResults", path
    results = components["BulkJobResults"]
    assert sorted(results["required"]) == ["job", "results"]
    assert results["properties"]["job"]["allOf"] == [{"$ref": "#/components/schemas/BulkJobSummary"}]
    assert results["properties"]["results"]["items"] == {"$ref": "#/components/schemas/BulkItemResult"}
    summary = components["BulkJobSummary"]["properties"]
    assert {"id", "kind", "status", "params", "total", "succeeded", "failed", "invalid"} <= set(summary)
    assert {"credits_held", "credits_spent", "created_at", "finished_at"} <= set(summary)
    assert {"retrying", "next_retry_seconds"} <= set(components["BulkJobProgress"]["properties"])
