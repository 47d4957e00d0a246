"""Bulk ASIN lookups with fees and profit (the ``asin_profit`` kind): API, page, exports, charges."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from credits.selectors import balance_get
from jobs.bulk.kinds import bulk_kinds_offered
from jobs.models import BulkItem, BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, asins, assert_books_balance, run_job
from resale.bulk_profit import ASIN_PROFIT, row_cost
from resale.fees import fees_get
from resale.models import ResaleDefaults

D = Decimal
BULK = "/api/v1/products/bulk"


@pytest.fixture(autouse=True)
def _quick_retries(settings):
    settings.BULK_RETRY_DELAY = 0
    settings.BULK_RETRY_DELAY_MAX = 0


def upload(api, rows: list[list[str]], header: tuple[str, ...] = ("asin", "cost"), **data):
    text = "\n".join(",".join(f'"{cell}"' for cell in row) for row in [list(header), *rows]) + "\n"
    file = SimpleUploadedFile("lot.csv", text.encode(), content_type="text/csv")
    return api.post(BULK, {"file": file, "kind": ASIN_PROFIT, **data}, format="multipart")


def results_csv(api, job_id: int) -> list[dict[str, str]]:
    response = api.get(f"{BULK}/{job_id}/results?format=csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_kind_is_offered_with_the_asin_lookup():
    assert [kind.name for kind in bulk_kinds_offered("asin_lookup")] == ["asin_lookup", ASIN_PROFIT]


def test_rows_get_fees_and_profit_at_their_cost_and_are_charged_as_lookups(api, user):
    first, second, third = asins(3, start=900)
    response = upload(api, [[first, "4.50"], [second, "4,50 €"], [third, ""]])
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["kind"], body["credits_held"]) == (ASIN_PROFIT, 3)

    job = run_job(body["id"])
    assert (job.status, job.succeeded, job.failed) == ("completed", 3, 0)
    assert balance_get(user=user) == 100 - 3
    assert_books_balance(job)

    rows = {row["asin"]: row for row in results_csv(api, job.pk)}
    for asin in (first, second):
        row = rows[asin]
        quote = fees_get(asin=asin, marketplace="US", price=row["sale_price"])
        assert row["profit_status"] == "ok"
        assert D(row["cost"]) == D("4.50")
        assert D(row["fees_total"]) == quote.total
        assert row["fees_source"] == "sandbox"
        # Not VAT-registered, no other costs: net = sale - fees, profit = net - cost.
        assert D(row["net_proceeds"]) == D(row["sale_price"]) - quote.total
        assert D(row["profit"]) == D(row["net_proceeds"]) - D("4.50")
        assert D(row["roi_percent"]) == (D(row["profit"]) * 100 / D("4.50")).quantize(D("0.01"))
        assert D(row["break_even_cost"]) == D(row["net_proceeds"])
    # The sale price is the landed buy box the lookup columns show.
    assert rows[first]["sale_price"] == rows[first]["buy_box_price"]
    # No cost: fees, net and break-even, but no profit made up at a cost of 0.
    blank = rows[third]
    assert blank["cost"] == blank["profit"] == blank["roi_percent"] == blank["margin_percent"] == ""
    assert D(blank["net_proceeds"]) == D(blank["sale_price"]) - D(blank["fees_total"])
    assert "No cost on the row" in blank["profit_notes"]
    # The lookup's own columns are all there too.
    assert rows[first]["title"]
    assert rows[first]["sales_rank"]


def test_saved_defaults_and_target_roi_are_used(api, user):
    ResaleDefaults.objects.create(user=user, prep_per_unit=D("0.50"), target_roi_percent=D("50"))
    (asin,) = asins(1, start=920)
    job = run_job(upload(api, [[asin, "3"]]).json()["id"])
    (row,) = results_csv(api, job.pk)
    net = D(row["net_proceeds"])
    assert D(row["landed_cost"]) == D("3.50")
    assert D(row["profit"]) == net - D("3.50")
    # The most to pay for a 50 % ROI: (net / 1.5 - prep), rounded down to the cent.
    assert D(row["max_cost_for_target_roi"]) == (net / D("1.5") - D("0.50")).quantize(D("0.01"), "ROUND_DOWN")
    assert row["target_roi_percent"] == "50.00"


def test_json_results_hold_the_profit_object(api, user):
    (asin,) = asins(1, start=930)
    job = run_job(api.post(BULK, {"asins": [asin], "kind": ASIN_PROFIT}, format="json").json()["id"])
    body = b"".join(api.get(f"{BULK}/{job.pk}/results").streaming_content)
    (item,) = json.loads(body)["results"]
    profit = item["result"]["profit"]
    assert profit["status"] == "ok"
    assert profit["cost"] is None  # a JSON list has no costs: fees and break-even only
    assert profit["currency"] == "USD"
    assert profit["sample"] is True  # the sandbox's fees are marked sample
    assert D(profit["fees_total"]) > 0


@pytest.mark.parametrize("cost", ["abc", "-2", "1,2,3", "99999999999999"])
def test_a_cost_that_is_not_an_amount_makes_the_row_invalid_and_uncharged(api, user, cost):
    good, bad = asins(2, start=940)
    response = upload(api, [[good, "5"], [bad, cost]])
    assert response.status_code == 202, response.content
    job = BulkJob.objects.get(pk=response.json()["id"])
    assert (job.invalid, job.credits_held) == (1, 1)
    item = BulkItem.objects.get(job=job, value="")
    assert item.status == "invalid"
    assert "cost" in item.error_message.lower()
    run_job(job.pk)
    assert balance_get(user=user) == 99


def test_cost_columns_by_other_names():
    assert row_cost({"unit cost": "$7.25"}) == D("7.25")
    assert row_cost({"buy cost": "7,25"}) == D("7.25")
    assert row_cost({}) is None


def test_unknown_products_fail_uncharged(api, user):
    (asin,) = asins(1, start=950)
    job = run_job(upload(api, [[asin, "2"], [NOT_FOUND, "2"]]).json()["id"])
    assert (job.succeeded, job.failed) == (1, 1)
    assert balance_get(user=user) == 99
    assert_books_balance(job)


def test_fees_unavailable_rows_are_retried_then_failed_uncharged(api, user, settings, monkeypatch):
    from products.providers import fees as fee_sources
    from products.providers.base import UpstreamUnavailable

    settings.BULK_MAX_ATTEMPTS = 2
    settings.FEES_UNAVAILABLE_SECONDS = 0
    calls = []

    def down(self, items, marketplace):
        calls.append(len(items))
        raise UpstreamUnavailable("fees down", provider="sandbox")

    monkeypatch.setattr(fee_sources.SandboxFees, "_estimate_batch", down)
    (asin,) = asins(1, start=960)
    job = run_job(upload(api, [[asin, "2"]]).json()["id"])
    item = BulkItem.objects.get(job=job)
    assert (item.status, item.error_code, item.attempts, item.credits) == ("failed", "fees_unavailable", 2, 0)
    assert "Fees unavailable" in item.error_message
    assert len(calls) == 2  # asked again on the retry, not answered from a cached failure
    assert balance_get(user=user) == 100
    assert_books_balance(job)


def test_an_unknown_kind_is_a_400(api, user):
    response = api.post(BULK, {"asins": asins(1), "kind": "manifest"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "kind" in error["detail"], error
    assert balance_get(user=user) == 100


def test_the_bulk_page_offers_profit_and_starts_that_kind(client, user):
    client.force_login(user)
    page = client.get("/bulk/")
    assert page.status_code == 200
    assert b'value="asin_profit"' in page.content
    (asin,) = asins(1, start=970)
    file = SimpleUploadedFile("mine.csv", f"asin,cost\n{asin},3.10\n".encode(), content_type="text/csv")
    response = client.post("/bulk/", {"file": file, "marketplace": "UK", "kind": ASIN_PROFIT})
    assert response.status_code == 302
    job = BulkJob.objects.get(user=user)
    assert (job.kind, job.params) == (ASIN_PROFIT, {"marketplace": "UK"})
    run_job(job.pk)
    page = client.get(f"/bulk/{job.pk}/")
    assert b"ASIN lookup with fees and profit" in page.content
    assert b"profit " in page.content
    assert b"GBP" in page.content


def test_rows_whose_fees_were_not_asked_wait_for_them_without_using_attempts(api, user, monkeypatch):
    import time

    from products.providers import fees as fee_sources
    from products.providers.base import RateLimited

    original = fee_sources.SandboxFees._estimate_batch
    calls = []

    def limited(self, items, marketplace):
        calls.append(len(items))
        if len(calls) <= 2:  # the fee upstream's rate limit, twice: not called at all
            raise RateLimited(
                "Too many fee requests right now.",
                provider="sandbox",
                retry_after=0.01,
                extra={"reason": "rate_limited"},
            )
        return original(self, items, marketplace)

    monkeypatch.setattr(fee_sources.SandboxFees, "_estimate_batch", limited)
    job_id = upload(api, [[asin, "2"] for asin in asins(3, start=980)]).json()["id"]
    deadline = time.monotonic() + 30
    job = run_job(job_id)
    while not job.is_final and time.monotonic() < deadline:
        time.sleep(0.2)
        job = run_job(job_id)
    assert (job.status, job.succeeded, job.failed) == ("completed", 3, 0)
    assert len(calls) == 3  # asked again each time: a fee not asked is never cached
    assert set(BulkItem.objects.filter(job=job).values_list("attempts", flat=True)) == {1}
    assert balance_get(user=user) == 97
    assert_books_balance(job)
