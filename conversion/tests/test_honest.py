"""Honest conversion for a person: the B0 rule needs the product lookup, sample data is marked and
never learnt, evidence reads in a reseller's words, a rescan within 24 hours is not charged again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversion import convert
from conversion.feedback import conversion_feedback
from conversion.models import Conversion, FnskuMapping
from conversion.resolvers import SAMPLE_STICKERLESS_CONFIDENCE
from conversion.tests.conftest import lookalike_pair
from conversion.tests.factories import FnskuMappingFactory
from core.api_errors import http_status
from core.errors import DomainError
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.providers.sandbox import NOT_FOUND_ASIN, OUTAGE_ASIN

pytestmark = pytest.mark.django_db

PRICE = 2
REAL_ASIN = "B0REALONE1"
REAL_TITLE = "Trailhead Hiking Backpack 30L, Blue"


def entries(user, kind):
    return list(LedgerEntry.objects.filter(account__user=user, kind=kind))


# --- The B0 rule -----------------------------------------------------------------------------------


def test_a_b0_code_the_product_data_lists_is_certain(real_catalogue):
    real_catalogue[REAL_ASIN] = REAL_TITLE
    user = funded_user(credits=10)

    body = convert.fnsku_convert(user=user, fnsku=REAL_ASIN.lower()).body()

    assert (body["asin"], body["status"], body["confidence"]) == (REAL_ASIN, "resolved", 1.0)
    assert body["title"] == REAL_TITLE
    assert (body["provider"], body["sample_data"]) == ("catalogue_stub", False)
    assert balance_get(user=user) == 10 - PRICE


@pytest.mark.parametrize("code", ["B0ZZZZZZZZ", "B0MADEUP01"])
def test_a_made_up_b0_code_is_not_resolved_and_is_refunded(real_catalogue, code):
    real_catalogue[REAL_ASIN] = REAL_TITLE
    user = funded_user(credits=10)

    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=user, fnsku=code)

    assert (http_status(caught.value), caught.value.code) == (404, "fnsku_not_found")
    assert "no product is listed under it" in caught.value.message
    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.asin, conversion.confidence) == ("not_found", "", None)
    assert balance_get(user=user) == 10
    assert len(entries(user, "charge")) == len(entries(user, "refund")) == 1


@pytest.mark.parametrize("code", ["B0ZZZZZZZZ", "B0MADEUP01"])
def test_a_made_up_b0_code_in_the_sandbox_is_a_sample_never_resolved(code):
    # The sandbox makes up a record for any well-formed ASIN, so its "found" is no evidence.
    user = funded_user(credits=10)

    body = convert.fnsku_convert(user=user, fnsku=code).body()

    assert (body["asin"], body["status"]) == (code, "ambiguous")
    assert body["confidence"] == SAMPLE_STICKERLESS_CONFIDENCE < 0.9
    assert (body["provider"], body["sample_data"]) == ("sandbox", True)
    assert body["evidence"][0]["detail"] == (
        f"{code} is an ASIN: a unit sold without an FBA sticker carries its ASIN, but only the sample "
        "data answered, which makes up a product for any ASIN: whether it is a real product in US "
        "was not checked (50% sure)."
    )
    assert not FnskuMapping.objects.filter(fnsku=code).exists()


def test_the_sandbox_unknown_asin_is_not_resolved_and_is_refunded():
    user = funded_user(credits=10)

    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=user, fnsku=NOT_FOUND_ASIN)

    assert http_status(caught.value) == 404
    assert Conversion.objects.get().status == "not_found"
    assert balance_get(user=user) == 10


def test_a_b0_code_whose_lookup_is_down_is_503_and_refunded():
    user = funded_user(credits=10)

    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=user, fnsku=OUTAGE_ASIN)

    assert http_status(caught.value) == 503
    assert "could not be checked" in caught.value.message
    assert Conversion.objects.get().status == "unavailable"
    assert balance_get(user=user) == 10


# --- Sample data ---------------------------------------------------------------------------------


def test_sandbox_answers_are_marked_sample_data():
    user = funded_user(credits=10)
    _, title_a, _, _ = lookalike_pair()

    sticker = convert.fnsku_convert(user=user, fnsku="B07N4M94X4").body()
    searched = convert.fnsku_convert(user=user, fnsku="X001SAMPLE", label_text=title_a).body()

    for body in (sticker, searched):
        assert (body["provider"], body["sample_data"]) == ("sandbox", True)
    stored = Conversion.objects.get(fnsku="X001SAMPLE")
    assert (stored.provider, stored.sample_data) == ("sandbox", True)


def test_real_search_answers_are_not_sample_data(real_catalogue):
    real_catalogue.update({REAL_ASIN: REAL_TITLE, "B0REALTWO2": "Kitchen Scale Digital, Silver"})
    user = funded_user(credits=10)

    body = convert.fnsku_convert(user=user, fnsku="X001REALSR", label_text=REAL_TITLE).body()

    assert body["asin"] == REAL_ASIN
    assert (body["provider"], body["sample_data"]) == ("catalogue_stub", False)


def test_sample_answers_are_never_learnt_into_the_shared_store(settings):
    settings.CONVERSION_LEARN_CONFIDENCE = 0.0  # whatever the model says, it would be learnt
    user = funded_user(credits=10)
    _, title_a, _, _ = lookalike_pair()

    convert.fnsku_convert(user=user, fnsku="X001NOLERN", label_text=title_a)

    assert not FnskuMapping.objects.filter(fnsku="X001NOLERN").exists()


def test_confirming_a_sample_answer_is_kept_as_the_users_own_word_only():
    user = funded_user(credits=10)
    _, title_a, _, _ = lookalike_pair()
    conversion = convert.fnsku_convert(user=user, fnsku="X001CONFSB", label_text=title_a).conversion

    conversion_feedback(user=user, conversion_id=conversion.pk, asin=conversion.asin)

    assert not FnskuMapping.objects.filter(fnsku="X001CONFSB", user=None).exists()
    own = FnskuMapping.objects.get(fnsku="X001CONFSB", user=user)
    assert (own.source, own.asin) == ("confirmed", conversion.asin)


def test_sandbox_titles_are_never_attached_to_inventory_asins():
    user = funded_user(credits=10)
    FnskuMappingFactory(
        user=user, fnsku="X001INVENT", asin="B0TESTKEEP", source=FnskuMapping.Source.INVENTORY_REPORT
    )

    body = convert.fnsku_convert(user=user, fnsku="X001INVENT").body()

    assert body["asin"] == "B0TESTKEEP"
    assert body["title"] is None
    assert (body["provider"], body["sample_data"]) == (None, False)


# --- Evidence in a reseller's words ---------------------------------------------------------------


def test_evidence_speaks_a_resellers_words(real_catalogue):
    real_catalogue.update({REAL_ASIN: REAL_TITLE, "B0REALTWO2": "Kitchen Scale Digital, Silver"})
    user = funded_user(credits=10)
    FnskuMappingFactory(
        user=user,
        fnsku="X001WORDS1",
        asin=REAL_ASIN,
        source=FnskuMapping.Source.INVENTORY_REPORT,
        seller_sku="BOX-7",
        title=REAL_TITLE,
    )
    FnskuMappingFactory(fnsku="X001WORDS1", asin=REAL_ASIN, times_confirmed=3, times_seen=3)

    inventory = convert.fnsku_convert(user=user, fnsku="X001WORDS1").body()
    searched = convert.fnsku_convert(
        user=user, fnsku="X001WORDS2", label_text="Trailhead Hiking...30L, Blue New"
    ).body()

    details = [e["detail"] for e in inventory["evidence"]]
    assert f"Your inventory report lists this FNSKU as {REAL_ASIN} ({REAL_TITLE}), SKU BOX-7" in details[0]
    assert any(d.startswith(f"3 other resellers confirmed this FNSKU is {REAL_ASIN}") for d in details)
    search_details = [e["detail"] for e in searched["evidence"] if e["asin"] == REAL_ASIN]
    assert search_details
    assert search_details[0].startswith(f"The label's title matches '{REAL_TITLE}' (")
    assert search_details[0].endswith("%).")
    for detail in details + [e["detail"] for e in searched["evidence"]]:
        for internal in ("mapping_store", "catalog_search", "result 1", "->"):
            assert internal not in detail


def test_no_mapping_is_said_plainly():
    user = funded_user(credits=10)
    with pytest.raises(DomainError) as caught:
        convert.fnsku_convert(user=user, fnsku="X00NOWORDS")
    details = [e["detail"] for e in caught.value.extra["evidence"]]
    assert "No one has converted X00NOWORDS in US before, and none of your inventory lists it." in details


# --- A rescan within 24 hours ------------------------------------------------------------------------


def test_a_rescan_within_24_hours_answers_from_the_stored_conversion_without_a_charge():
    user = funded_user(credits=10)
    _, title_a, _, _ = lookalike_pair()

    first = convert.fnsku_convert(user=user, fnsku="X001RESCAN", label_text=title_a)
    again = convert.fnsku_convert(user=user, fnsku="x001rescan ", label_text=f"  {title_a}")

    assert again.conversion.pk == first.conversion.pk
    body = again.body()
    assert (body["charged"], body["replayed_from"]) == (False, first.conversion.pk)
    assert first.body()["charged"] is True
    assert first.body()["replayed_from"] is None
    assert Conversion.objects.count() == 1
    assert len(entries(user, "charge")) == 1
    assert balance_get(user=user) == 10 - PRICE == body["credits_remaining"]


@pytest.mark.parametrize(
    "change", ["other_label", "other_marketplace", "older_than_a_day", "other_user", "not_found"]
)
def test_what_is_not_a_rescan_is_charged(change):
    user = funded_user(credits=10)
    _, title_a, _, title_b = lookalike_pair()
    fnsku = "X00NOTHING" if change == "not_found" else "X001RESCN2"
    try:
        first = convert.fnsku_convert(
            user=user, fnsku=fnsku, label_text="" if change == "not_found" else title_a
        )
    except DomainError:
        first = None
    second_user, label, market = user, title_a, "US"
    if change == "other_label":
        label = title_b
    elif change == "other_marketplace":
        market = "UK"
    elif change == "older_than_a_day":
        assert first is not None
        Conversion.objects.filter(pk=first.conversion.pk).update(
            created_at=timezone.now() - timedelta(hours=25)
        )
    elif change == "other_user":
        second_user = funded_user(credits=10)
    if change == "not_found":
        with pytest.raises(DomainError):
            convert.fnsku_convert(user=user, fnsku=fnsku)
        assert len(entries(user, "charge")) == 2  # each tried, each refunded
        return

    again = convert.fnsku_convert(user=second_user, fnsku=fnsku, label_text=label, marketplace=market)

    assert again.rescan is False
    assert again.body()["charged"] is True
    assert Conversion.objects.count() == 2
    assert len(entries(second_user, "charge")) == (2 if second_user == user else 1)
