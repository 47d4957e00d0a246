"""``manage.py lookup --code``: the products carrying a barcode, for operators (not charged)."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from products.models import Product
from products.providers.sandbox import NOT_FOUND_CODE, OUTAGE_CODE, code_asins
from products.tests.conftest import KEEPA_PRODUCT_URL, load_fixture


def lookup(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("lookup", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_json_lists_every_product_with_the_code():
    out, err = lookup("--code", "590 1234 12345 7", "--marketplace", "fr", "--json")

    records = json.loads(out)
    assert [r["asin"] for r in records] == code_asins("5901234123457")
    assert {r["marketplace"] for r in records} == {"FR"}
    assert "SAMPLE DATA" in err
    assert not Product.objects.exists()  # an operator's look: nothing stored


def test_summary_per_product(settings, keepa_settings, rsps):
    settings.PRODUCT_PROVIDERS = ["keepa"]
    rsps.get(KEEPA_PRODUCT_URL, json=load_fixture("keepa/product-response.json"))

    out, _ = lookup("--code", "012345678905")

    assert out.startswith("B0TESTKEEP in US, from keepa")
    assert "Example Insulated Steel Water Bottle" in out


@pytest.mark.parametrize(
    ("args", "returncode", "message"),
    [
        (("--code", "4006381333932"), 2, "check digit"),
        (("--code", NOT_FOUND_CODE), 3, "No product with EAN-13"),
        (("--code", OUTAGE_CODE), 4, "Retry after 30s."),
        (("B08N5WRWNW", "--code", "4006381333931"), 2, "either an ASIN or --code"),
        ((), 2, "either an ASIN or --code"),
    ],
)
def test_failures_exit_with_their_status(args, returncode, message):
    with pytest.raises(CommandError) as caught:
        lookup(*args)
    assert caught.value.returncode == returncode
    assert message in str(caught.value)
