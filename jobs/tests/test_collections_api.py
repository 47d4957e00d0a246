"""The collections API: create (and dry run), read, change, delete, run now, runs, results; ownership."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_key_for
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from jobs.collections import services
from jobs.models import BulkJob, Collection, CollectionRun
from jobs.tests.bulk_helpers import asins, run_job
from jobs.tests.collection_factories import make_collection

pytestmark = pytest.mark.django_db
API = "/api/v1/collections"


def client_for(user) -> APIClient:
    client = APIClient()
    _, key = api_key_for(user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_create_shows_the_cost_of_a_run_and_a_dry_run_saves_nothing(api, user):
    payload = {
        "name": "Top sellers",
        "items": [*asins(3), asins(1)[0]],
        "schedule": "weekly",
        "marketplace": "uk",
    }

    preview = api.post(API, {**payload, "dry_run": True}, format="json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["cost_per_run"] == {"items": 3, "price": 1, "total": 3, "operation": "bulk_item"}
    assert preview.json()["marketplace"] == "GB" or preview.json()["marketplace"] == "UK"
    assert Collection.objects.count() == 0

    response = api.post(API, payload, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    collection = Collection.objects.get()
    assert response["Location"] == f"{API}/{collection.pk}"
    assert data["items"] == asins(3)
    assert data["item_count"] == 3
    assert data["cost_per_run"]["total"] == 3
    assert data["schedule"] == "weekly"
    assert data["next_run_at"]
    assert data["links"]["run"] == f"{API}/{collection.pk}/run"
    assert balance_get(user=user) == 100  # saving charges nothing


def test_invalid_items_are_a_400_naming_them(api):
    response = api.post(API, {"name": "C", "items": ["B0BLK00001", "bad"]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_items"
    assert error["detail"]["rows"] == [
        {"row": 2, "input": "bad", "error": error["detail"]["rows"][0]["error"]}
    ]
    response = api.post(API, {"name": "C", "items": asins(2), "schedule": "yearly"}, format="json")
    assert response.status_code == 400
    assert Collection.objects.count() == 0


def test_a_body_over_the_size_limit_is_413_and_saves_nothing(api, settings):
    settings.BULK_MAX_UPLOAD_BYTES = 1000

    response = api.post(API, {"name": "C", "items": asins(100)}, format="json")  # 1.4 KB

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert error["detail"]["max_bytes"] == 1000
    assert Collection.objects.count() == 0


def test_list_get_patch_delete(api, user):
    collection = make_collection(user, 2)
    other = make_collection(funded_user(), 1, name="Not mine")

    listed = api.get(API).json()
    assert [c["id"] for c in listed["results"]] == [collection.pk]
    assert "items" not in listed["results"][0]

    assert api.get(f"{API}/{collection.pk}").json()["items"] == asins(2)

    patched = api.patch(f"{API}/{collection.pk}", {"items": asins(5), "schedule": "on_demand"}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["item_count"], patched.json()["next_run_at"]) == (5, None)
    assert patched.json()["cost_per_run"]["total"] == 5
    assert patched.json()["name"] == "Watch"  # not sent: unchanged
    # Another kind checks the items again (10 letters and digits are FNSKUs too) and prices them anew.
    fnskus = api.patch(f"{API}/{collection.pk}", {"kind": "fnsku_conversion"}, format="json")
    assert fnskus.status_code == 200
    assert fnskus.json()["cost_per_run"] == {
        "items": 5,
        "price": 2,
        "total": 10,
        "operation": "fnsku_conversion",
    }
    bad = api.patch(f"{API}/{collection.pk}", {"items": ["X001", "X001ABCDEF"]}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_items"
    assert Collection.objects.get(pk=collection.pk).item_count == 5

    assert api.delete(f"{API}/{collection.pk}").status_code == 204
    assert not Collection.objects.filter(pk=collection.pk).exists()
    assert Collection.objects.filter(pk=other.pk).exists()


def test_another_users_collection_is_not_found(api):
    theirs = make_collection(funded_user(credits=50), 2)
    run = services.collection_run_now(collection=theirs)
    for method, url in [
        ("get", f"{API}/{theirs.pk}"),
        ("patch", f"{API}/{theirs.pk}"),
        ("delete", f"{API}/{theirs.pk}"),
        ("post", f"{API}/{theirs.pk}/run"),
        ("get", f"{API}/{theirs.pk}/runs"),
        ("get", f"{API}/{theirs.pk}/runs/{run.pk}/results?format=csv"),
    ]:
        response = (
            getattr(api, method)(url, {}, format="json")
            if method in ("patch", "post")
            else getattr(api, method)(url)
        )
        assert response.status_code == 404, (method, url)
        assert response.json()["error"]["code"] == "collection_not_found"
    assert Collection.objects.filter(pk=theirs.pk).exists()
    assert CollectionRun.objects.count() == 1


def test_run_now_then_runs_and_downloads(api, user):
    collection = make_collection(user, 3)

    response = api.post(f"{API}/{collection.pk}/run", {}, format="json")
    assert response.status_code == 202, response.content
    run = response.json()
    assert (run["status"], run["trigger"], run["items"], run["cost"]) == ("started", "manual", 3, 3)
    assert run["job"]["status"] == "queued"
    assert run["job"]["credits_held"] == 3
    assert api.post(f"{API}/{collection.pk}/run", {}, format="json").status_code == 409
    run_job(run["job"]["id"])

    runs = api.get(f"{API}/{collection.pk}/runs").json()["results"]
    assert [r["id"] for r in runs] == [run["id"]]
    assert runs[0]["job"]["status"] == "completed"
    assert runs[0]["results_available"] is True
    links = runs[0]["links"]
    assert links["job"] == f"/api/v1/products/bulk/{run['job']['id']}"

    csv_response = api.get(links["results_csv"])
    assert csv_response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(body(csv_response).decode())))
    assert [row["asin"] for row in rows] == asins(3)
    assert {row["status"] for row in rows} == {"succeeded"}
    results = json.loads(body(api.get(links["results_json"])))
    assert (results["job"]["id"], results["job"]["status"]) == (run["job"]["id"], "completed")
    assert [item["result"]["asin"] for item in results["results"]] == asins(3)
    assert balance_get(user=user) == 97


def test_a_run_the_balance_cannot_cover_is_402_recorded_and_charges_nothing(api):
    poor = funded_user(credits=2)
    collection = make_collection(poor, 3)
    client = client_for(poor)

    response = client.post(f"{API}/{collection.pk}/run", {}, format="json")

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["detail"]["price"] == 3
    runs = client.get(f"{API}/{collection.pk}/runs").json()["results"]
    assert [(r["id"], r["status"], r["reason_code"], r["job"]) for r in runs] == [
        (error["detail"]["run"], "skipped", "insufficient_credits", None)
    ]
    assert runs[0]["links"]["results_csv"] is None
    assert client.get(f"{API}/{collection.pk}/runs/{runs[0]['id']}/results").status_code == 404
    assert balance_get(user=poor) == 2
    assert BulkJob.objects.count() == 0


def test_expired_results_are_gone(api, user, settings):
    collection = make_collection(user, 2)
    run = services.collection_run_now(collection=collection)
    run_job(run.job_id)
    CollectionRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert services.collection_runs_expire_results() == 1

    response = api.get(f"{API}/{collection.pk}/runs/{run.pk}/results?format=csv")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "results_expired"
    listed = api.get(f"{API}/{collection.pk}/runs").json()["results"][0]
    assert listed["results_available"] is False
    assert listed["results_deleted_at"]


def test_the_api_needs_a_key():
    assert APIClient().get(API).status_code == 401
