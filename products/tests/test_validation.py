import pytest

from core.api_errors import http_status
from core.errors import DomainError
from products.validation import normalize_asin


@pytest.mark.parametrize(
    ("raw", "asin"),
    [
        ("B08N5WRWNW", "B08N5WRWNW"),
        ("  b08n5wrwnw \t", "B08N5WRWNW"),
        ("0439064872", "0439064872"),  # ISBN-10 style
        ("043906487x", "043906487X"),  # ISBN-10 with an X check digit, lower case
    ],
)
def test_valid_asins_are_normalised(raw, asin):
    assert normalize_asin(raw) == asin


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Enter an ASIN"),
        ("   ", "Enter an ASIN"),
        ("B08N5WRWN", "has 9"),
        ("B08N5WRWNW1", "has 11"),
        ("B08N5-RWNW", "contains '-'"),
        ("B08N5 RWNW", "contains ' '"),
        ("B08N5WRWNÉ", "contains 'É'"),
        (None, "must be text"),
        (1234567890, "must be text"),
    ],
)
def test_invalid_asins_are_a_400_saying_what_is_wrong(raw, says):
    with pytest.raises(DomainError) as caught:
        normalize_asin(raw)
    assert http_status(caught.value) == 400
    assert caught.value.code == "invalid_asin"
    assert says in caught.value.message
