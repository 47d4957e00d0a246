"""convert_many: the batch the bulk job engine will call (no charging inside)."""

import pytest

from conversion.bulk import convert_many, outcome_row
from conversion.models import Conversion
from conversion.resolvers import SAMPLE_STICKERLESS_CONFIDENCE
from conversion.tests.conftest import lookalike_pair
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db


def test_a_batch_is_resolved_item_by_item_without_charging():
    user = funded_user(credits=3)
    asin_a, title_a, _, _ = lookalike_pair()

    outcomes = convert_many(
        user=user,
        fnskus=["B07N4M94X4", "x001batch1", "X00-BAD", "X00NOTHING"],
        marketplace="US",
        label_texts={"X001BATCH1": f"{title_a} New"},
    )

    assert [o.fnsku for o in outcomes] == ["B07N4M94X4", "X001BATCH1", "X00-BAD", "X00NOTHING"]
    sticker, labelled, bad, missing = outcomes
    # Only the sandbox lists B07N4M94X4: a sample at the stated confidence, not the rule's 1.0.
    assert (sticker.ok, sticker.asin, sticker.confidence, sticker.status) == (
        True,
        "B07N4M94X4",
        SAMPLE_STICKERLESS_CONFIDENCE,
        "ambiguous",
    )
    assert (labelled.ok, labelled.asin) == (True, asin_a)
    assert (bad.ok, bad.error_code, bad.conversion_id) == (False, "invalid_fnsku", None)
    assert (missing.ok, missing.error_code, missing.status) == (False, "fnsku_not_found", "not_found")
    assert balance_get(user=user) == 3
    assert not LedgerEntry.objects.filter(account__user=user, kind="charge").exists()
    logged = Conversion.objects.filter(user=user).order_by("id")
    assert [(c.channel, c.credits_charged) for c in logged] == [("bulk", 0)] * 3
    assert outcome_row(sticker)["asin"] == "B07N4M94X4"
    assert (outcome_row(sticker)["sample_data"], outcome_row(sticker)["provider"]) == (True, "sandbox")
    assert (outcome_row(bad)["sample_data"], outcome_row(bad)["provider"]) == (False, "")
    assert outcome_row(bad)["status"] == "invalid"


def test_a_batch_of_b0_codes_is_certain_only_where_the_product_data_lists_them(real_catalogue):
    # A real product (amazon-us-products-2023.csv), listed by a provider that is not the sandbox.
    real_catalogue["B07XSCCZYG"] = (
        "Platinum Elite Softside Expandable Checked Luggage, 8 Wheel Spinner Suitcase"
    )

    listed, made_up = convert_many(
        user=funded_user(credits=3), fnskus=["B07XSCCZYG", "B0ZZZZZZZZ"], marketplace="US"
    )

    assert (listed.ok, listed.asin, listed.confidence, listed.status) == (True, "B07XSCCZYG", 1.0, "resolved")
    assert (made_up.ok, made_up.error_code, made_up.status) == (False, "fnsku_not_found", "not_found")


def test_a_bad_marketplace_refuses_the_whole_batch():
    from core.errors import DomainError

    with pytest.raises(DomainError):
        convert_many(user=funded_user(credits=1), fnskus=["B07N4M94X4"], marketplace="XX")
