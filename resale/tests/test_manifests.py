"""Manifests end to end in this process: read, cost shown, started, each line resolved (ASIN, title,
FNSKU, barcode), priced, costed; charged per delivered line and given back for the others."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from django.utils import timezone

from conversion.models import Conversion
from conversion.tests.catalogue_stub import CatalogueStubProvider
from conversion.tests.factories import FnskuMappingFactory
from core.errors import ConflictError, DomainError
from credits.errors import InsufficientCredits
from credits.selectors import accounts_out_of_balance, balance_get
from credits.tests.factories import funded_user
from jobs.models import BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, assert_books_balance, run_job
from products.marketplaces import Marketplace
from products.providers import chain
from products.providers.base import BuyBox, Money, ProductRecord
from resale.manifest_files import ManifestLineInput
from resale.manifest_selectors import manifest_lines, manifest_totals
from resale.manifests import (
    allocate_lot_price,
    clean_lot_price,
    manifest_create,
    manifest_refresh,
    manifest_start,
)
from resale.models import Manifest, ManifestLine
from resale.tests.manifest_data import bstock_manifest, csv_bytes, products, retail

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db]

PRICE = 2  # credits per manifest line


def create(user: Any, data: bytes, lot_price: str = "500.00", filename: str = "manifest.csv") -> Manifest:
    return manifest_create(
        user=user,
        file=io.BytesIO(data),
        size=len(data),
        filename=filename,
        lot_price=lot_price,
        marketplace="US",
    )


def line(manifest: Manifest, number: int) -> ManifestLine:
    return ManifestLine.objects.get(manifest=manifest, line=number)


@pytest.mark.parametrize(
    ("typed", "price"),
    [
        ("1250", "1250.00"),
        ("1,250.50", "1250.50"),
        ("1.250,50", "1250.50"),  # as a German keyboard writes it
        ("1250,50 €", "1250.50"),
        ("$300", "300.00"),
    ],
)
def test_the_lot_price_as_people_type_it(typed, price):
    assert clean_lot_price(typed) == Decimal(price)


@pytest.mark.parametrize(
    ("typed", "words"), [("", "Enter"), ("abc", "Enter"), ("-5", "negative"), ("1e99", "Enter")]
)
def test_a_lot_price_that_is_not_one_is_a_clear_error(typed, words):
    with pytest.raises(DomainError, match=words) as caught:
        clean_lot_price(typed)
    assert caught.value.code == "invalid_lot_price"


def test_allocation_by_unit_retail_share_adds_up_to_the_lot_price():
    lines = [
        ManifestLineInput(line=2, asin="A", quantity=2, unit_retail=Decimal("10.00")),
        ManifestLineInput(line=3, asin="B", quantity=1, unit_retail=Decimal("30.00")),
        ManifestLineInput(line=4, asin="C", quantity=3, unit_retail=Decimal("3.33")),
    ]
    how, shares = allocate_lot_price(Decimal("100.00"), lines)
    assert how == "retail"
    assert sum(shares) == Decimal("100.00")
    # 20 : 30 : 9.99 of 59.99
    assert shares == [Decimal("33.34"), Decimal("50.01"), Decimal("16.65")]


def test_allocation_by_units_when_a_line_has_no_unit_retail():
    lines = [
        ManifestLineInput(line=2, asin="A", quantity=1, unit_retail=Decimal("10.00")),
        ManifestLineInput(line=3, asin="B", quantity=2),
    ]
    how, shares = allocate_lot_price(Decimal("10.00"), lines)
    assert how == "units"
    assert shares == [Decimal("3.33"), Decimal("6.67")]


def test_a_draft_shows_its_cost_and_charges_nothing():
    user = funded_user(credits=100)
    rows = products(3)
    data = csv_bytes(
        ["ASIN", "Title", "Qty"], [[r["asin"], r["title"], 2] for r in rows] + [[rows[0]["asin"], "", "-2"]]
    )
    manifest = create(user, data)
    assert (manifest.lines_total, manifest.lines_rejected, manifest.lines_accepted) == (4, 1, 3)
    assert manifest.cost == 3 * PRICE
    assert manifest.units_total == 6
    assert manifest.job is None
    assert balance_get(user=user) == 100
    rejected = line(manifest, 5)
    assert rejected.status == "rejected"
    assert rejected.error == "Line 5: the quantity -2 is negative."
    assert rejected.allocated_cost == 0
    assert sum(line.allocated_cost for line in manifest.lines.all()) == Decimal("500.00")


def test_asin_lines_are_priced_charged_per_line_and_unresolved_lines_given_back(
    django_capture_on_commit_callbacks,
):
    user = funded_user(credits=100)
    rows = products(4, start=30)
    data = bstock_manifest(rows, quantities=[1, 2, 3, 1])
    data += f"PLT-1,{NOT_FOUND},Unknown product,2,$10.00,$20.00,Customer Returns\n".encode()
    manifest = create(user, data, lot_price="150.00")
    assert manifest.allocation == "retail"
    with django_capture_on_commit_callbacks(execute=False):
        job = manifest_start(manifest=manifest)
    assert job.credits_held == 5 * PRICE
    assert balance_get(user=user) == 100 - 5 * PRICE
    job = run_job(job.pk)
    assert job.status == "completed"
    assert (job.succeeded, job.failed) == (4, 1)
    assert balance_get(user=user) == 100 - 4 * PRICE  # the unresolved line's credits were given back
    assert_books_balance(job)
    assert accounts_out_of_balance() == []

    priced = list(manifest_lines(manifest=manifest).filter(status="priced"))
    assert [p.asin for p in priced] == [r["asin"] for r in rows]
    for p in priced:
        assert p.resolved_via == "asin"
        assert p.sale_price is not None
        assert p.sample_data  # the sandbox's sample products and fees
        assert p.resale_value == p.sale_price * p.quantity
        assert p.fees_total == p.fees_unit * p.quantity
        # Profit at the line's share of the lot price (within half a cent per unit of rounding).
        assert abs(p.profit - (p.net_total - p.allocated_cost)) <= Decimal("0.005") * p.quantity
    unresolved = line(manifest, 6)
    assert unresolved.status == "unresolved"
    assert unresolved.error

    totals = manifest_totals(manifest=manifest)
    assert totals.lines_priced == 4
    assert totals.units_unresolved == 2
    assert totals.resale_value == sum(p.resale_value for p in priced)
    assert totals.fees == sum(p.fees_total for p in priced)
    assert totals.profit == sum(p.profit for p in priced) - unresolved.allocated_cost
    assert totals.roi == (totals.profit * 100 / Decimal("150.00")).quantize(Decimal("0.01"))
    assert totals.lines_sample == 4


def test_lines_whose_fees_were_not_asked_wait_for_them_without_using_attempts(
    django_capture_on_commit_callbacks, monkeypatch, settings
):
    import time

    from jobs.models import BulkItem
    from products.providers import fees as fee_sources
    from products.providers.base import RateLimited

    settings.BULK_RETRY_DELAY_MAX = 0
    original = fee_sources.SandboxFees._estimate_batch
    calls: list[int] = []

    def limited(self, items, marketplace):
        calls.append(len(items))
        if len(calls) == 1:  # the fee upstream's shared rate limit: not called at all
            raise RateLimited(
                "Too many fee requests.",
                provider="sandbox",
                retry_after=0.01,
                extra={"reason": "rate_limited"},
            )
        return original(self, items, marketplace)

    monkeypatch.setattr(fee_sources.SandboxFees, "_estimate_batch", limited)
    user = funded_user(credits=100)
    manifest = create(user, bstock_manifest(products(3, start=70), quantities=[1, 1, 1]), lot_price="30.00")
    with django_capture_on_commit_callbacks(execute=False):
        job = manifest_start(manifest=manifest)
    deadline = time.monotonic() + 30
    job = run_job(job.pk)
    while not job.is_final and time.monotonic() < deadline:
        time.sleep(0.2)
        job = run_job(job.pk)
    assert (job.status, job.succeeded) == ("completed", 3)
    assert len(calls) == 2
    assert set(BulkItem.objects.filter(job=job).values_list("attempts", flat=True)) == {1}
    assert balance_get(user=user) == 100 - 3 * PRICE
    assert_books_balance(job)
    manifest_refresh(manifest=manifest)
    assert manifest_lines(manifest=manifest).filter(status="priced").count() == 3


def test_starting_twice_is_one_job_and_a_short_balance_starts_nothing(django_capture_on_commit_callbacks):
    rows = products(5)
    poor = funded_user(credits=3)
    manifest = create(poor, csv_bytes(["ASIN"], [[r["asin"]] for r in rows]))
    with pytest.raises(InsufficientCredits):
        manifest_start(manifest=manifest)
    manifest.refresh_from_db()
    assert manifest.job is None
    assert BulkJob.objects.filter(user=poor).count() == 0
    assert balance_get(user=poor) == 3

    user = funded_user(credits=100)
    manifest = create(user, csv_bytes(["ASIN"], [[r["asin"]] for r in rows]))
    with django_capture_on_commit_callbacks(execute=False):
        first = manifest_start(manifest=manifest)
        again = manifest_start(manifest=Manifest.objects.get(pk=manifest.pk))
    assert first.pk == again.pk
    assert balance_get(user=user) == 100 - 5 * PRICE


def test_every_line_rejected_cannot_start():
    user = funded_user(credits=100)
    manifest = create(user, csv_bytes(["ASIN", "Qty"], [["B07XSCCZYG", "-1"], ["B01DJLKZBA", "x"]]))
    with pytest.raises(ConflictError):
        manifest_start(manifest=manifest)


class PricedCatalogue(CatalogueStubProvider):
    """The conversion tests' real-title catalogue, with each product's real price as its buy box."""

    name = "catalogue_stub"
    prices: ClassVar[dict[str, str]] = {}

    def _record(self, asin: str, marketplace: Marketplace) -> ProductRecord:
        return ProductRecord(
            asin=asin,
            marketplace=marketplace.code,
            provider=self.name,
            fetched_at=timezone.now(),
            title=self.products[asin],
            buy_box=BuyBox(price=Money.of(self.prices[asin], "USD")),
        )


@pytest.fixture
def priced_catalogue(settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Products from the real catalogue (searchable by title, priced), fees from the sandbox."""
    titles: dict[str, str] = {}
    monkeypatch.setattr(PricedCatalogue, "products", titles)
    monkeypatch.setattr(PricedCatalogue, "prices", {})
    monkeypatch.setitem(chain.PROVIDERS, PricedCatalogue.name, PricedCatalogue)
    settings.PRODUCT_PROVIDERS = [PricedCatalogue.name, "sandbox"]
    return titles


def stock(catalogue: dict[str, str], rows: list[dict[str, str]]) -> None:
    for row in rows:
        catalogue[row["asin"]] = row["title"]
        PricedCatalogue.prices[row["asin"]] = row["price"]


def test_title_only_lines_are_found_by_catalogue_search(priced_catalogue, django_capture_on_commit_callbacks):
    rows = products(40, start=100)
    stock(priced_catalogue, rows)
    wanted = rows[:3]
    user = funded_user(credits=100)
    data = csv_bytes(
        ["Item Description", "Units", "MSRP"],
        [[r["title"], 1, retail(r)] for r in wanted]
        + [["Completely unrelated gizmo widget frobnicator", 1, "5"]],
    )
    manifest = create(user, data, lot_price="40.00")
    with django_capture_on_commit_callbacks(execute=False):
        job = manifest_start(manifest=manifest)
    run_job(job.pk)
    resolved = list(manifest_lines(manifest=manifest).filter(status="priced"))
    assert [(r.asin, r.resolved_via) for r in resolved] == [(w["asin"], "title") for w in wanted]
    assert all(r.confidence and r.confidence >= 0.6 for r in resolved)
    assert [r.sale_price for r in resolved] == [Decimal(w["price"]).quantize(Decimal("0.01")) for w in wanted]
    assert line(manifest, 5).status == "unresolved"
    assert balance_get(user=user) == 100 - 3 * PRICE


def test_fnsku_lines_go_through_conversion_with_the_title_as_label(
    priced_catalogue, django_capture_on_commit_callbacks
):
    rows = products(3, start=200)
    stock(priced_catalogue, rows)
    mappings = [FnskuMappingFactory(asin=row["asin"]) for row in rows[:2]]
    user = funded_user(credits=100)
    data = csv_bytes(
        ["FNSKU", "Title", "Qty"],
        [[m.fnsku, rows[i]["title"], 2] for i, m in enumerate(mappings)] + [["X00ZZZZZZZ", "", 1]],
    )
    manifest = create(user, data, lot_price="60.00")
    with django_capture_on_commit_callbacks(execute=False):
        job = manifest_start(manifest=manifest)
    run_job(job.pk)
    first, second = line(manifest, 2), line(manifest, 3)
    assert (first.status, first.resolved_via, first.asin) == ("priced", "fnsku", rows[0]["asin"])
    assert (second.status, second.asin) == ("priced", rows[1]["asin"])
    # Logged as conversions of the bulk channel, with the line's title as the label text.
    logged = Conversion.objects.get(user=user, fnsku=mappings[0].fnsku)
    assert logged.label_text == rows[0]["title"][: len(logged.label_text)]
    assert logged.credits_charged == 0
    assert line(manifest, 4).status == "unresolved"
    assert balance_get(user=user) == 100 - 2 * PRICE


def test_lines_a_completion_hook_did_not_write_are_taken_from_their_items(django_capture_on_commit_callbacks):
    user = funded_user(credits=100)
    rows = products(3, start=700)
    data = csv_bytes(["ASIN", "Qty"], [[r["asin"], 2] for r in rows] + [[NOT_FOUND, 1]])
    manifest = create(user, data)
    with django_capture_on_commit_callbacks(execute=False):
        job = manifest_start(manifest=manifest)
    run_job(job.pk)
    written = {line.line: (line.status, line.profit) for line in manifest.lines.all()}
    # As if the hook had failed (or not run yet) for every line:
    ManifestLine.objects.filter(manifest=manifest).update(status="pending", profit=None, error="")
    assert manifest_refresh(manifest=Manifest.objects.get(pk=manifest.pk)) == 4
    assert {line.line: (line.status, line.profit) for line in manifest.lines.all()} == written
    assert manifest_refresh(manifest=Manifest.objects.get(pk=manifest.pk)) == 0


def test_upc_lines_go_through_the_barcode_lookup(django_capture_on_commit_callbacks):
    from products.providers.sandbox import NOT_FOUND_CODE, code_asins

    user = funded_user(credits=100)
    upc = "036000291452"  # a UPC-A with a right check digit
    data = csv_bytes(["UPC/EAN", "Description", "Units"], [[upc, "", 3], [NOT_FOUND_CODE, "", 1]])
    manifest = create(user, data, lot_price="30.00")
    assert manifest.columns == {"code": "UPC/EAN", "title": "Description", "quantity": "Units"}
    with django_capture_on_commit_callbacks(execute=False):
        job = manifest_start(manifest=manifest)
    run_job(job.pk)
    found = line(manifest, 2)
    assert (found.status, found.resolved_via, found.asin) == ("priced", "code", code_asins("0" + upc)[0])
    missing = line(manifest, 3)
    assert missing.status == "unresolved"
    assert "barcode" in missing.error
    assert balance_get(user=user) == 100 - PRICE
