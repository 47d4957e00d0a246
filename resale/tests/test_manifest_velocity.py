"""Sales velocity on manifest lines (issue #22): monthly sold and 30/90-day rank drops as the
product's provider reports them, with their source, never estimated. Keepa's and SP-API's answers
are their real formats (products/tests/fixtures) over mocked HTTP; the sandbox's are its own."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from credits.tests.factories import funded_user
from jobs.tests.bulk_helpers import run_job
from products.marketplaces import marketplace_get
from products.providers.sandbox import SandboxProvider
from products.providers.spapi import NO_SALES_DATA
from products.tests.conftest import KEEPA_PRODUCT_URL, LWA_URL, SPAPI_NA, load_fixture
from resale.manifest_kind import manifest_line_apply
from resale.manifest_selectors import manifest_lines, manifest_totals
from resale.manifests import manifest_create, manifest_refresh, manifest_start
from resale.models import Manifest, ManifestLine
from resale.tests.manifest_data import csv_bytes, products

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db]
URL = "/api/v1/manifests"
US = marketplace_get("US")

# What Keepa reports for each product (structs/Product.java monthlySold, structs/Stats.java
# salesRankDrops30/90, -1 when not counted), as products/tests/test_keepa.py sends them.
KEEPA_VELOCITY: dict[str, dict[str, Any]] = {
    "B0KEEPA001": {"monthlySold": 2000, "drops": (12, 40)},
    "B0KEEPA002": {"monthlySold": 1000, "drops": (24, 71)},
    "B0KEEPA003": {"monthlySold": None, "drops": (3, -1)},  # most products: no "bought" badge
}


def keepa_product(asin: str) -> dict[str, Any]:
    """The reference Keepa product answer for ``asin``, with its velocity and the fee fields
    (``fbaFees``, ``referralFeePercentage``) that Keepa's fee estimate reads."""
    product = copy.deepcopy(load_fixture("keepa/product-response.json")["products"][0])
    wanted = KEEPA_VELOCITY[asin]
    product["asin"] = asin
    if wanted["monthlySold"] is not None:
        product["monthlySold"] = wanted["monthlySold"]
        product["lastSoldUpdate"] = 8326800
    for days, count in zip((30, 90), wanted["drops"], strict=True):
        product["stats"][f"salesRankDrops{days}"] = count
    product["fbaFees"] = {"pickAndPackFee": 352}
    product["referralFeePercentage"] = 15.0
    return product


def keepa_answers(request: Any) -> tuple[int, dict[str, str], str]:
    """Keepa's product endpoint: the products asked for (a lookup or a fee estimate), in one answer."""
    asked = parse_qs(urlsplit(request.url).query)["asin"][0].split(",")
    body = load_fixture("keepa/product-response.json")
    body["products"] = [keepa_product(asin) for asin in asked if asin in KEEPA_VELOCITY]
    return 200, {}, json.dumps(body)


@pytest.fixture
def keepa(settings: Any, keepa_settings: Any, rsps: Any) -> Any:
    settings.PRODUCT_PROVIDERS = ["keepa"]
    rsps.add_callback("GET", KEEPA_PRODUCT_URL, callback=keepa_answers)
    return rsps


def analysed(user: Any, asins: list[str], django_capture_on_commit_callbacks: Any) -> Manifest:
    data = csv_bytes(["ASIN", "Qty", "Unit Retail"], [[asin, 2, "20.00"] for asin in asins])
    manifest = manifest_create(
        user=user, file=io.BytesIO(data), size=len(data), filename="lot.csv", lot_price="30.00"
    )
    with django_capture_on_commit_callbacks(execute=False):
        job = manifest_start(manifest=manifest)
    assert run_job(job.pk).status == "completed"
    return Manifest.objects.get(pk=manifest.pk)


def figures(line: ManifestLine) -> tuple[Any, ...]:
    return (line.monthly_sold, line.rank_drops_30, line.rank_drops_90, line.sales_data_source)


def test_keepa_lines_carry_monthly_sold_and_rank_drops_with_their_source(
    keepa, django_capture_on_commit_callbacks
):
    manifest = analysed(funded_user(credits=100), list(KEEPA_VELOCITY), django_capture_on_commit_callbacks)

    lines = {line.asin: line for line in manifest.lines.all()}
    assert {line.status for line in lines.values()} == {"priced"}
    assert figures(lines["B0KEEPA001"]) == (2000, 12, 40, "keepa")
    assert figures(lines["B0KEEPA002"]) == (1000, 24, 71, "keepa")
    # Not reported is None, never 0: no badge, and a window Keepa did not count (-1).
    assert figures(lines["B0KEEPA003"]) == (None, 3, None, "keepa")
    assert {line.sales_data_note for line in lines.values()} == {""}
    assert {line.sales_data_label for line in lines.values()} == {"Keepa"}
    assert not any(line.sample_data for line in lines.values())
    assert manifest_totals(manifest=manifest).lines_sales_data == 3


def test_sorting_by_monthly_sold_puts_lines_without_it_last(keepa, django_capture_on_commit_callbacks):
    user = funded_user(credits=100)
    manifest = analysed(user, ["B0KEEPA003", "B0KEEPA002", "B0KEEPA001"], django_capture_on_commit_callbacks)

    def order(sort: str) -> list[int | None]:
        return [line.monthly_sold for line in manifest_lines(manifest=manifest, sort=sort)]

    assert order("-monthly_sold") == [2000, 1000, None]
    assert order("monthly_sold") == [1000, 2000, None]
    assert [line.rank_drops_90 for line in manifest_lines(manifest=manifest, sort="-rank_drops_90")] == [
        71,
        40,
        None,
    ]

    api = APIClient()
    api.force_authenticate(user)
    answer = api.get(f"{URL}/{manifest.pk}/lines", {"sort": "-monthly_sold"})
    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert [(r["asin"], r["monthly_sold"], r["rank_drops_30"], r["rank_drops_90"]) for r in rows] == [
        ("B0KEEPA001", 2000, 12, 40),
        ("B0KEEPA002", 1000, 24, 71),
        ("B0KEEPA003", None, 3, None),
    ]
    assert {(r["sales_data_source"], r["sales_data_note"]) for r in rows} == {("keepa", "")}
    assert api.get(f"{URL}/{manifest.pk}").json()["totals"]["lines_sales_data"] == 3


def test_the_page_shows_the_figures_with_their_source_and_sorts_by_them(
    client, keepa, django_capture_on_commit_callbacks
):
    user = funded_user(credits=100)
    manifest = analysed(user, ["B0KEEPA003", "B0KEEPA002", "B0KEEPA001"], django_capture_on_commit_callbacks)
    client.force_login(user)

    html = client.get(f"/manifests/{manifest.pk}/", {"sort": "-monthly_sold"}).content.decode()

    assert '<option value="-monthly_sold" selected>Sold last month, most first</option>' in html
    assert "<th>Sold last month</th><th>Rank drops 30 d / 90 d</th>" in html
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[1:]]
    assert [row.split(" ")[0] for row in rows] == ["4", "3", "2"]  # the file's lines 4, 3, 2
    assert rows[0].endswith("2,000+ source: Keepa 12 / 40")
    assert rows[1].endswith("1,000+ source: Keepa 24 / 71")
    assert rows[2].endswith("— source: Keepa 3 / —")
    assert "sample" not in body
    assert 'id="total-sales-data">3 lines' in html


def test_exports_carry_the_columns_empty_where_not_reported(keepa, django_capture_on_commit_callbacks):
    user = funded_user(credits=100)
    manifest = analysed(user, list(KEEPA_VELOCITY), django_capture_on_commit_callbacks)
    api = APIClient()
    api.force_authenticate(user)
    columns = ["monthly_sold", "rank_drops_30", "rank_drops_90", "sales_data_source", "sales_data_note"]

    text = b"".join(api.get(f"{URL}/{manifest.pk}/export", {"format": "csv"}).streaming_content).decode()
    rows = {row["asin"]: [row[c] for c in columns] for row in csv.DictReader(io.StringIO(text))}
    assert rows == {
        "B0KEEPA001": ["2000", "12", "40", "keepa", ""],
        "B0KEEPA002": ["1000", "24", "71", "keepa", ""],
        "B0KEEPA003": ["", "3", "", "keepa", ""],
    }

    xlsx = api.get(f"{URL}/{manifest.pk}/export", {"format": "xlsx"})
    table = list(load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).worksheets[0].values)
    header = list(table[0])
    cells = {row[header.index("asin")]: [row[header.index(c)] for c in columns] for row in table[1:]}
    assert cells == {
        "B0KEEPA001": [2000, 12, 40, "keepa", None],  # numbers as number cells
        "B0KEEPA002": [1000, 24, 71, "keepa", None],
        "B0KEEPA003": [None, 3, None, "keepa", None],
    }


def test_lines_taken_from_their_items_keep_their_sales_figures(keepa, django_capture_on_commit_callbacks):
    manifest = analysed(funded_user(credits=100), list(KEEPA_VELOCITY), django_capture_on_commit_callbacks)
    written = {line.line: figures(line) for line in manifest.lines.all()}
    # As if the completion hook had not written the lines: manifest_refresh takes them from the items.
    ManifestLine.objects.filter(manifest=manifest).update(
        status="pending", monthly_sold=None, rank_drops_30=None, rank_drops_90=None, sales_data_source=""
    )
    assert manifest_refresh(manifest=Manifest.objects.get(pk=manifest.pk)) == 3
    assert {line.line: figures(line) for line in manifest.lines.all()} == written
    assert written[4] == (None, 3, None, "keepa")


def test_sp_api_lines_say_it_has_no_sales_figure(
    client, settings, spapi_settings, rsps, django_capture_on_commit_callbacks
):
    settings.PRODUCT_PROVIDERS = ["spapi"]
    item = load_fixture("spapi/getCatalogItem.200.json")
    asin = item["asin"]
    fees = load_fixture("spapi/getMyFeesEstimateForASIN.200.fba-details.json")
    identifier = fees["payload"]["FeesEstimateResult"]["FeesEstimateIdentifier"]
    identifier["IdValue"] = identifier["SellerInputIdentifier"] = asin
    rsps.post(LWA_URL, json={"access_token": "Atza|t", "token_type": "bearer", "expires_in": 3600})
    rsps.get(re.compile(re.escape(SPAPI_NA) + r"/catalog/2022-04-01/items/\w+"), json=item)
    rsps.get(
        re.compile(re.escape(SPAPI_NA) + r"/products/pricing/v0/items/\w+/offers"),
        json=load_fixture("spapi/getItemOffers.200.consumer.json"),
    )
    rsps.post(re.compile(re.escape(SPAPI_NA) + r"/products/fees/v0/items/\w+/feesEstimate"), json=fees)
    user = funded_user(credits=100)

    manifest = analysed(user, [asin], django_capture_on_commit_callbacks)

    line = manifest.lines.get()
    assert line.status == "priced"
    assert figures(line) == (None, None, None, "spapi")
    assert line.sales_data_note == NO_SALES_DATA
    assert manifest_totals(manifest=manifest).lines_sales_data == 0
    api = APIClient()
    api.force_authenticate(user)
    row = api.get(f"{URL}/{manifest.pk}/lines").json()["results"][0]
    assert (row["monthly_sold"], row["rank_drops_30"], row["rank_drops_90"]) == (None, None, None)
    assert row["sales_data_note"] == "not available from SP-API"
    text = b"".join(api.get(f"{URL}/{manifest.pk}/export").streaming_content).decode()
    exported = next(csv.DictReader(io.StringIO(text)))
    assert [exported[c] for c in ("monthly_sold", "rank_drops_30", "rank_drops_90")] == ["", "", ""]
    assert exported["sales_data_note"] == "not available from SP-API"
    client.force_login(user)
    html = client.get(f"/manifests/{manifest.pk}/").content.decode()
    assert (
        '<td class="sales-data" colspan="2"><span class="muted">Not available from SP-API</span></td>' in html
    )


def test_sandbox_lines_carry_its_figures_marked_sample(client, django_capture_on_commit_callbacks):
    user = funded_user(credits=100)
    asins = [row["asin"] for row in products(4, start=900)]
    manifest = analysed(user, asins, django_capture_on_commit_callbacks)

    for line in manifest.lines.all():
        reported = SandboxProvider().fetch_one(line.asin, US).sales_velocity
        assert reported is not None
        assert figures(line) == (reported.monthly_sold, reported.drops(30), reported.drops(90), "sandbox")
        assert line.sales_data_label == "Sandbox, sample"
    client.force_login(user)
    html = client.get(f"/manifests/{manifest.pk}/").content.decode()
    assert html.count("source: Sandbox, sample") == 4


def test_a_result_without_sales_figures_leaves_them_empty():
    """An item result written before lines carried sales figures, and values no provider sends."""
    line = ManifestLine(line=2, monthly_sold=5, rank_drops_30=1, sales_data_source="keepa")
    result = {"status": "priced", "asin": "B0KEEPA001"}

    manifest_line_apply(line, result, "")
    assert figures(line) == (None, None, None, "")
    assert line.sales_data_note == ""
    assert line.sales_data_label == ""

    manifest_line_apply(line, {**result, "monthly_sold": -1, "rank_drops_30": True, "rank_drops_90": "9"}, "")
    assert (line.monthly_sold, line.rank_drops_30, line.rank_drops_90) == (None, None, None)
