"""Barcodes: EAN-13, EAN-8, UPC-A, ISBN-10 and ISBN-13, check digits and the shape test."""

import random

import pytest
from stdnum import ean, isbn

from core.api_errors import http_status
from core.errors import DomainError
from products.validation import (
    ProductCode,
    isbn10_check_digit,
    looks_like_barcode,
    normalize_product_code,
)


@pytest.mark.parametrize(
    ("raw", "value", "code_type"),
    [
        # Real-world codes.
        ("4006381333931", "4006381333931", "ean13"),  # a STABILO pen (the classic EAN-13 example)
        ("5901234123457", "5901234123457", "ean13"),  # GS1's EAN-13 example
        ("96385074", "96385074", "ean8"),  # GS1's EAN-8 example
        ("73513537", "73513537", "ean8"),
        ("036000291452", "036000291452", "upc"),  # Wrigley's gum, the UPC-A example
        ("012345678905", "012345678905", "upc"),
        ("887276302195", "887276302195", "upc"),  # a Samsung TV (SP-API's example item)
        ("9780306406157", "9780306406157", "isbn13"),
        ("978-0-306-40615-7", "9780306406157", "isbn13"),  # hyphens dropped
        ("9791032300824", "9791032300824", "isbn13"),  # a 979 prefix
        ("9790230671187", "9790230671187", "ean13"),  # 9790: an ISMN (printed music), not an ISBN
        ("0306406152", "0306406152", "isbn10"),
        ("0-306-40615-2", "0306406152", "isbn10"),
        ("080442957X", "080442957X", "isbn10"),  # check character X
        ("080442957x", "080442957X", "isbn10"),  # lower-case x accepted
        (" 4006381 333931\n", "4006381333931", "ean13"),  # scanner line end, spaces inside
        ("4006381\u2013333931", "4006381333931", "ean13"),  # a typographic dash
    ],
)
def test_valid_codes_are_normalised_and_typed(raw, value, code_type):
    assert normalize_product_code(raw) == ProductCode(value, code_type)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("4006381333932", "'4006381333932' is not a valid EAN-13: its check digit should be 1, not 2."),
        ("96385075", "'96385075' is not a valid EAN-8: its check digit should be 4, not 5."),
        ("036000291453", "'036000291453' is not a valid UPC-A: its check digit should be 2, not 3."),
        ("9780306406158", "'9780306406158' is not a valid ISBN-13: its check digit should be 7, not 8."),
        ("0306406153", "'0306406153' is not a valid ISBN-10: its check character should be 2, not 3."),
        ("0804429579", "'0804429579' is not a valid ISBN-10: its check character should be X, not 9."),
        ("B08N5WRWNW", "only as an ISBN-10"),
        ("12345", "has 5."),
        ("12345678901234", "has 14."),
        ("40063813339A1", "contains 'A'"),
        ("", "Enter a barcode"),
        ("  - ", "Enter a barcode"),
    ],
)
def test_invalid_codes_are_a_400_that_says_why(raw, message):
    with pytest.raises(DomainError) as caught:
        normalize_product_code(raw)
    assert http_status(caught.value) == 400
    assert caught.value.code == "invalid_code"
    assert message in caught.value.message


def test_a_code_that_is_not_text_is_refused():
    with pytest.raises(DomainError) as caught:
        normalize_product_code(4006381333931)
    assert caught.value.code == "invalid_code"


def test_check_digits_and_isbn_conversion():
    assert ean.calc_check_digit("400638133393") == "1"
    assert ean.calc_check_digit("03600029145") == "2"
    assert isbn10_check_digit("030640615") == "2"
    assert isbn10_check_digit("080442957") == "X"
    assert ProductCode("0306406152", "isbn10").gtin == "9780306406157"
    assert ProductCode("080442957X", "isbn10").gtin == "9780804429573"
    assert ProductCode("036000291452", "upc").gtin == "0036000291452"


@pytest.mark.parametrize("seed", range(5))
def test_every_isbn10_check_character_is_the_one_stdnum_accepts(seed):
    # isbn10_check_digit goes through stdnum's ISBN-13 and back: pin it to stdnum's own
    # validation over many bodies, X (a check of ten) and 0 among them.
    rng = random.Random(seed)
    seen = set()
    for _ in range(400):
        body = "".join(str(rng.randint(0, 9)) for _ in range(9))
        check = isbn10_check_digit(body)
        seen.add(check)
        assert isbn.is_valid(body + check)
        assert normalize_product_code(body + check) == ProductCode(body + check, "isbn10")
        assert ProductCode(body + check, "isbn10").gtin == isbn.to_isbn13(body + check)
    assert {"X", "0"} <= seen


def test_only_the_right_check_digit_is_accepted_for_each_length():
    for body in ("400638133393", "03600029145", "9638507", "978030640615"):
        right = ean.calc_check_digit(body)
        for digit in "0123456789":
            if digit == right:
                assert normalize_product_code(body + digit).value == body + digit
            else:
                with pytest.raises(DomainError, match=f"should be {right}, not {digit}"):
                    normalize_product_code(body + digit)


def test_gtin_is_the_thirteen_digit_form():
    assert ProductCode("036000291452", "upc").gtin == "0036000291452"
    assert ProductCode("0306406152", "isbn10").gtin == "9780306406157"
    assert ProductCode("96385074", "ean8").gtin == "96385074"
    assert ProductCode("4006381333931", "ean13").label == "EAN-13"


@pytest.mark.parametrize(
    ("raw", "barcode"),
    [
        ("4006381333931", True),
        ("036000291452", True),
        ("96385074", True),
        ("978-0-306-40615-7", True),
        ("4006381333932", True),  # the shape only: the lookup says what is wrong with it
        ("0306406152", False),  # 10 characters: an ASIN (the ISBN-10 of a book is its ASIN)
        ("B08N5WRWNW", False),
        ("X001ABCDEF", False),
        ("12345", False),
        ("", False),
        (None, False),
    ],
)
def test_looks_like_barcode_tells_barcodes_from_asins_by_shape(raw, barcode):
    assert looks_like_barcode(raw) is barcode
