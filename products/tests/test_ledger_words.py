"""Products' words on the credits page's ledger (products/ledger_words.py)."""

import pytest
from django.test import Client

from core.errors import DomainError
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.providers.sandbox import NOT_FOUND_CODE
from products.services import product_code_lookup, product_lookup

pytestmark = pytest.mark.django_db


def ledger_rows(user) -> list[str]:
    client = Client()
    client.force_login(user)
    html = client.get("/credits/").content.decode().split('id="transactions"')[1]
    return html.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]


def test_a_lookup_refunded_for_an_outage_is_one_line_in_plain_words():
    user = funded_user(10)
    with pytest.raises(DomainError):
        product_lookup(user=user, asin="B000000503", marketplace="US")  # the sandbox's outage

    lines = ledger_rows(user)

    assert len(lines) == 2  # the funding entry and the lookup's one line
    assert "ASIN lookup US:B000000503 — not charged: the product data providers were unavailable" in lines[0]
    assert "upstream_unavailable" not in "".join(lines)
    assert "asin_lookup" not in "".join(lines)
    assert balance_get(user=user) == 10


def test_a_barcode_not_found_reads_as_words():
    user = funded_user(10)
    with pytest.raises(DomainError):
        product_code_lookup(user=user, code=NOT_FOUND_CODE, marketplace="US")

    (line, _) = ledger_rows(user)

    assert "Barcode lookup US:" in line
    assert "not charged: no product with this ASIN or barcode in this marketplace" in line


def test_a_lookup_served_from_the_cache_says_so():
    user = funded_user(10)
    product_lookup(user=user, asin="B08N5WRWNW", marketplace="US")  # fetched
    product_lookup(user=user, asin="B08N5WRWNW", marketplace="US")  # cached

    lines = ledger_rows(user)

    assert "ASIN lookup US:B08N5WRWNW — from cache" in lines[0]
    assert "from cache" not in lines[1]
    assert balance_get(user=user) == 8  # charged all the same
