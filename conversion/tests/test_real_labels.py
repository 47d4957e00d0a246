"""The real-label evaluation set: what it is made of, and that it is the same every time."""

import random

from conversion.evaluation.real_labels import (
    LABEL_CONDITIONS,
    LABEL_ONLY_KINDS,
    load_products,
    middle_cut,
    real_label_cases,
    variant_swaps,
)


def test_the_set_is_seeded_and_split_by_product():
    catalogue, rows = real_label_cases(families=300)
    again_catalogue, again = real_label_cases(families=300)
    assert rows == again
    assert catalogue == again_catalogue

    family_of = {listing.asin: listing.family for listing in catalogue.listings}
    for case in rows:
        if case["truth_asin"]:
            family = family_of[case["truth_asin"]]
            assert catalogue.families[family] == case["split"], case
    assert {c["split"] for c in rows} == {"fit", "heldout"}
    assert {"label_only", "not_in_catalogue", "community", "learned"} <= {c["kind"] for c in rows}


def test_products_kept_out_of_the_catalogue_are_labels_nobody_can_answer():
    catalogue, rows = real_label_cases(families=300)
    listed = {listing.family for listing in catalogue.listings}
    assert catalogue.uncatalogued
    assert not set(catalogue.uncatalogued) & listed
    outside = [c for c in rows if c["kind"] == "not_in_catalogue"]
    assert outside
    assert all(c["truth_asin"] == "" and not c["mappings"] for c in outside)


def test_look_alikes_are_distinct_listings_that_differ_in_one_variant_word():
    catalogue, _rows = real_label_cases()
    real = {asin for asin, _ in load_products()}
    derived = [listing for listing in catalogue.listings if listing.derived]
    assert {"colour", "size", "count"} == {listing.derived for listing in derived}
    titles = catalogue.titles()
    for listing in derived:
        assert listing.asin not in real
        assert listing.asin.startswith("B0")
        original = titles[listing.family].split()
        changed = listing.title.split()
        assert len(original) == len(changed)
        assert sum(a != b for a, b in zip(original, changed, strict=True)) == 1


def test_swaps_keep_the_rest_of_the_title():
    swaps = {
        kind: title
        for title, kind in variant_swaps("Trail Backpack 30 L, Navy Blue, Pack of 2", random.Random(1))
    }
    assert "Navy Blue" not in swaps["colour"]
    assert swaps["colour"].endswith(" Blue, Pack of 2")
    assert swaps["count"].startswith("Trail Backpack 30 L, Navy Blue, Pack of ")
    assert not swaps["count"].endswith("of 2")


def test_labels_are_cut_in_the_middle_and_end_with_the_condition():
    title = "Platinum Elite Softside Expandable Checked Luggage, 8 Wheel Spinner Suitcase, True Navy Blue"
    printed = middle_cut(title, 56)
    head, tail = printed.split("...")
    assert len(printed) <= 56
    assert title.startswith(head)
    assert title.endswith(tail)
    assert head
    assert tail
    assert middle_cut("Short Title", 56) == "Short Title"

    _catalogue, rows = real_label_cases(families=300)
    label_only = [c for c in rows if c["kind"] in LABEL_ONLY_KINDS]
    assert all(c["label_text"].endswith(LABEL_CONDITIONS) for c in label_only)
    assert any("middle cut" in c["note"] for c in label_only)
    assert any("ocr" in c["note"] for c in label_only)
