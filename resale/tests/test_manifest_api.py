"""The manifests API and pages: create (draft with its cost, or started), status, lines sorted,
exports (CSV and XLSX, formulas escaped), errors with their line, another user's manifest."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from credits.selectors import balance_get, ledger_entry_list
from credits.tests.factories import funded_user
from jobs.tests.bulk_helpers import NOT_FOUND, run_job
from resale.models import Manifest
from resale.tests.manifest_data import bstock_manifest, csv_bytes, products, xlsx_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db]
URL = "/api/v1/manifests"


def upload(data: bytes, name: str = "manifest.csv") -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


@pytest.fixture
def api():
    user = funded_user(credits=200)
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


def test_create_is_a_draft_with_its_cost_then_start_holds_and_runs(api, django_capture_on_commit_callbacks):
    rows = products(3, start=300)
    data = bstock_manifest(rows, quantities=[1, 2, 1]) + f"PLT-1,{NOT_FOUND},Unknown,1,$5,$5,New\n".encode()
    answer = api.post(
        URL, {"file": upload(data), "lot_price": "80.00", "marketplace": "US"}, format="multipart"
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["status"], body["cost"], body["lines_accepted"], body["item_price"]) == ("draft", 8, 4, 2)
    assert body["columns"]["quantity"] == "Qty"
    assert balance_get(user=api.user) == 200
    with django_capture_on_commit_callbacks(execute=False):
        started = api.post(f"{URL}/{body['id']}/start")
    assert started.status_code == 202
    assert started.json()["job"]["credits_held"] == 8
    run_job(started.json()["job"]["id"])

    detail = api.get(f"{URL}/{body['id']}").json()
    assert detail["status"] == "completed"
    assert detail["totals"]["lines_priced"] == 3
    assert detail["totals"]["lines_unresolved"] == 1
    assert balance_get(user=api.user) == 200 - 6

    lines = api.get(f"{URL}/{body['id']}/lines", {"sort": "-profit"}).json()["results"]
    profits = [float(line["profit"]) for line in lines if line["profit"] is not None]
    assert profits == sorted(profits, reverse=True)
    assert lines[-1]["status"] == "unresolved"  # no profit: last either way

    csv_text = api.get(f"{URL}/{body['id']}/export", {"format": "csv"})
    assert csv_text.status_code == 200
    content = b"".join(csv_text.streaming_content).decode()
    assert content.splitlines()[0].startswith("line,status,asin_input")
    assert rows[0]["asin"] in content

    xlsx = api.get(f"{URL}/{body['id']}/export", {"format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)), read_only=True).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][0] == "line"
    assert len(table) == 5


def test_start_true_starts_at_once_and_a_short_balance_is_402_keeping_the_draft(
    django_capture_on_commit_callbacks,
):
    poor = funded_user(credits=1)
    client = APIClient()
    client.force_authenticate(poor)
    data = csv_bytes(["ASIN"], [[r["asin"]] for r in products(2)])
    answer = client.post(URL, {"file": upload(data), "lot_price": "10", "start": "true"}, format="multipart")
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "insufficient_credits"
    manifest = Manifest.objects.get(user=poor)
    assert manifest.job is None
    assert balance_get(user=poor) == 1


def test_formula_cells_are_escaped_in_both_exports(api, django_capture_on_commit_callbacks):
    rows = products(1, start=400)
    data = csv_bytes(["ASIN", "Title"], [[rows[0]["asin"], '=HYPERLINK("http://evil","x")']])
    body = api.post(URL, {"file": upload(data), "lot_price": "5"}, format="multipart").json()
    content = b"".join(api.get(f"{URL}/{body['id']}/export").streaming_content).decode()
    assert "'=HYPERLINK" in content
    xlsx = api.get(f"{URL}/{body['id']}/export", {"format": "xlsx"})
    workbook = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    cell = workbook.worksheets[0]["F2"]  # title_input
    assert cell.data_type == "s"
    assert cell.value == '\'=HYPERLINK("http://evil","x")'


@pytest.mark.parametrize(
    ("data", "name", "status", "code", "line"),
    [
        (b"Pallet,Weight\nP1,3\n", "m.csv", 400, "no_recognisable_column", "Line 1"),
        (b"ASIN,Title\nB07XSCCZYG,Bad \x81 byte\n", "m.csv", 400, "wrong_encoding", "Line 2"),
        (b"", "m.csv", 400, "empty_file", ""),
        (b"PK\x03\x04garbage", "m.xlsx", 400, "unreadable_spreadsheet", ""),
    ],
)
def test_bad_files_are_clear_errors_creating_and_charging_nothing(api, data, name, status, code, line):
    answer = api.post(URL, {"file": upload(data, name), "lot_price": "10"}, format="multipart")
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith(line)
    assert not Manifest.objects.exists()
    assert balance_get(user=api.user) == 200


def test_over_50_mb_is_413_before_reading(api, settings):
    settings.MANIFEST_MAX_UPLOAD_BYTES = 1000
    answer = api.post(
        URL, {"file": upload(b"ASIN\n" + b"B07XSCCZYG\n" * 200), "lot_price": "1"}, format="multipart"
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "file_too_large"


def test_a_bad_lot_price(api):
    data = csv_bytes(["ASIN"], [["B07XSCCZYG"]])
    answer = api.post(URL, {"file": upload(data), "lot_price": "-5"}, format="multipart")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_lot_price"


def test_another_users_manifest_is_not_found(api):
    other = funded_user(credits=10)
    client = APIClient()
    client.force_authenticate(other)
    data = xlsx_bytes(["ASIN", "Qty"], [["B07XSCCZYG", 2]])
    body = client.post(URL, {"file": upload(data, "lot.xlsx"), "lot_price": "3"}, format="multipart").json()
    assert body["encoding"] == "xlsx"
    assert api.get(f"{URL}/{body['id']}").status_code == 404
    assert api.post(f"{URL}/{body['id']}/start").status_code == 404
    assert api.get(f"{URL}/{body['id']}/lines").status_code == 404


def test_the_pages_read_show_the_cost_run_and_show_the_totals(client, django_capture_on_commit_callbacks):
    user = funded_user(credits=50)
    client.force_login(user)
    rows = products(3, start=500)
    answer = client.post(
        "/manifests/",
        {"file": upload(bstock_manifest(rows), "lot.csv"), "lot_price": "30", "marketplace": "US"},
    )
    manifest = Manifest.objects.get(user=user)
    assert answer.status_code == 302
    page = client.get(f"/manifests/{manifest.pk}/").content.decode()
    assert "Cost: 6 credits" in page
    assert 'id="manifest-start"' in page
    with django_capture_on_commit_callbacks(execute=False):
        client.post(f"/manifests/{manifest.pk}/start")
    manifest.refresh_from_db()
    running = client.get(f"/manifests/{manifest.pk}/").content.decode()
    assert 'hx-get="/manifests/' in running  # live totals while it runs
    assert "htmx.min.js" in running
    run_job(manifest.job_id)
    summary = client.get(f"/manifests/{manifest.pk}/summary", HTTP_HX_REQUEST="true")
    assert summary["HX-Refresh"] == "true"  # done: the whole page again, with its chart
    done = client.get(f"/manifests/{manifest.pk}/?sort=-profit").content.decode()
    assert 'id="manifest-chart"' in done
    assert "chart.umd.js" in done
    assert "htmx.min.js" not in done
    assert 'id="total-profit"' in done
    assert balance_get(user=user) == 50 - 6


def test_a_bad_upload_on_the_page_says_why(client):
    user = funded_user(credits=5)
    client.force_login(user)
    answer = client.post(
        "/manifests/", {"file": upload(b"Foo,Bar\n1,2\n"), "lot_price": "3", "marketplace": "US"}
    )
    assert answer.status_code == 400
    assert "no recognisable column" in answer.content.decode()


def test_delete_a_draft_then_a_finished_manifest_but_not_a_running_one(
    api, django_capture_on_commit_callbacks
):
    rows = products(2, start=600)
    data = csv_bytes(["ASIN"], [[r["asin"]] for r in rows])
    draft = api.post(URL, {"file": upload(data), "lot_price": "10"}, format="multipart").json()
    assert api.delete(f"{URL}/{draft['id']}").status_code == 204
    assert not Manifest.objects.filter(pk=draft["id"]).exists()
    assert api.get(f"{URL}/{draft['id']}").status_code == 404
    assert balance_get(user=api.user) == 200

    body = api.post(URL, {"file": upload(data), "lot_price": "10"}, format="multipart").json()
    with django_capture_on_commit_callbacks(execute=False):
        job = api.post(f"{URL}/{body['id']}/start").json()["job"]
    running = api.delete(f"{URL}/{body['id']}")
    assert running.status_code == 409
    assert running.json()["error"]["code"] == "manifest_running"
    assert Manifest.objects.filter(pk=body["id"]).exists()

    run_job(job["id"])
    spent = 200 - balance_get(user=api.user)
    assert spent == 4
    entries = ledger_entry_list(user=api.user).count()
    assert api.delete(f"{URL}/{body['id']}").status_code == 204
    assert not Manifest.objects.filter(pk=body["id"]).exists()
    # The charges stay in the ledger; nothing is refunded or charged by deleting.
    assert balance_get(user=api.user) == 200 - spent
    assert ledger_entry_list(user=api.user).count() == entries


def test_delete_on_the_page(client, django_capture_on_commit_callbacks):
    user = funded_user(credits=20)
    client.force_login(user)
    rows = products(2, start=620)
    client.post(
        "/manifests/",
        {"file": upload(bstock_manifest(rows), "lot.csv"), "lot_price": "9", "marketplace": "US"},
    )
    manifest = Manifest.objects.get(user=user)
    page = client.get(f"/manifests/{manifest.pk}/").content.decode()
    assert 'id="manifest-delete"' in page
    with django_capture_on_commit_callbacks(execute=False):
        client.post(f"/manifests/{manifest.pk}/start")
    running = client.get(f"/manifests/{manifest.pk}/").content.decode()
    assert 'id="manifest-delete"' not in running  # no delete button while it runs
    refused = client.post(f"/manifests/{manifest.pk}/delete", follow=True)
    assert "cancel its job first" in refused.content.decode()
    manifest.refresh_from_db()
    run_job(manifest.job_id)
    answer = client.post(f"/manifests/{manifest.pk}/delete", follow=True)
    assert answer.redirect_chain[-1][0] == "/manifests/"
    assert f"Manifest #{manifest.pk} deleted." in answer.content.decode()
    assert not Manifest.objects.filter(pk=manifest.pk).exists()


def test_an_unknown_line_status_is_a_clear_400(api):
    data = csv_bytes(["ASIN"], [[r["asin"]] for r in products(1, start=640)])
    body = api.post(URL, {"file": upload(data), "lot_price": "1"}, format="multipart").json()
    for status in ("sold", "a\x00b"):
        answer = api.get(f"{URL}/{body['id']}/lines", {"status": status})
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_status"
    assert api.get(f"{URL}/{body['id']}/lines", {"status": "pending"}).json()["count"] == 1
