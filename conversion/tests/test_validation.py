import pytest

from conversion.validation import clean_label_text, fnsku_kind, normalize_fnsku
from core.api_errors import http_status
from core.errors import DomainError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("X001ABCDEF", "X001ABCDEF"),
        ("x001abcdef", "X001ABCDEF"),
        ("  X001ABCDEF \r\n", "X001ABCDEF"),
        ("\tb07n4m94x4", "B07N4M94X4"),
        ("0439064872", "0439064872"),
    ],
)
def test_valid_codes_are_trimmed_and_upper_cased(raw, expected):
    assert normalize_fnsku(raw) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Enter an FNSKU"),
        ("   ", "Enter an FNSKU"),
        ("X001ABCDE", "exactly 10 characters; 'X001ABCDE' has 9"),
        ("X001ABCDEFG", "exactly 10 characters; 'X001ABCDEFG' has 11"),
        ("X001-BCDEF", "contains '-'"),
        ("X001 BCDEF", "contains ' '"),
        ("X001AB.DE!", "contains '!' '.'"),
        ("X001ABCDÉF", "'É' (LATIN CAPITAL LETTER E WITH ACUTE)"),
        ("X001ABCDE\u200b", "ZERO WIDTH SPACE"),
        ("\uff38001ABCDEF", "FULLWIDTH LATIN CAPITAL LETTER X"),
    ],
)
def test_bad_codes_are_refused_with_a_precise_message(raw, says):
    with pytest.raises(DomainError) as caught:
        normalize_fnsku(raw)

    error = caught.value
    assert http_status(error) == 400
    assert error.code == "invalid_fnsku"
    assert says in error.message
    assert error.extra == {"fnsku": raw}


@pytest.mark.parametrize("raw", [None, 1234567890, ["X001ABCDEF"], {"fnsku": "X001ABCDEF"}])
def test_non_text_is_refused(raw):
    with pytest.raises(DomainError) as caught:
        normalize_fnsku(raw)
    assert caught.value.code == "invalid_fnsku"
    assert "must be text" in caught.value.message


def test_kinds():
    assert fnsku_kind("X001ABCDEF") == "fulfilment_label"
    assert fnsku_kind("B07N4M94X4") == "stickerless"
    assert fnsku_kind("0439064872") == "other"


def test_label_text_is_kept_printable_and_short():
    assert clean_label_text("  Northwind\tBottle\x00 \n New ") == "Northwind Bottle New"
    assert clean_label_text(None) == ""
    assert len(clean_label_text("x" * 1000)) == 300
    with pytest.raises(DomainError) as caught:
        clean_label_text(42)
    assert caught.value.code == "invalid_label_text"
