"""The scanner page (/convert/) takes a manufacturer's barcode too: the ASINs carrying it."""

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD
from conversion.models import Conversion
from credits.models import LedgerEntry
from credits.selectors import balance_get
from products.providers.sandbox import NOT_FOUND_CODE, OUTAGE_CODE, code_asins

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
EAN = "4006381333931"


@pytest.fixture
def user_credits():
    return 10


@pytest.fixture
def client(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_a_scanned_ean_answers_its_asins(client, user):
    response = client.post("/convert/scan/", {"fnsku": f"{EAN}\r\n", "marketplace": "US"}, **JSON)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True
    barcode = body["barcode"]
    assert (barcode["code"], barcode["code_type"], barcode["code_label"]) == (EAN, "ean13", "EAN-13")
    assert [m["asin"] for m in barcode["matches"]] == code_asins(EAN)
    assert barcode["matches"][0]["amazon_url"] == f"https://www.amazon.com/dp/{code_asins(EAN)[0]}"
    assert barcode["credits_remaining"] == 9
    html = body["html"]
    assert 'id="result-card"' in html
    assert 'data-status="barcode"' in html
    for asin in code_asins(EAN):
        assert f'data-asin="{asin}"' in html
    assert "EAN-13 4006381333931" in html
    # Charged as a barcode lookup, not as a conversion.
    assert not Conversion.objects.exists()
    (charge,) = LedgerEntry.objects.filter(account__user=user, kind="charge")
    assert charge.operation == "code_lookup"
    assert balance_get(user=user) == 9


def test_a_scanned_upc_without_script_renders_the_page(client):
    response = client.post("/convert/scan/", {"fnsku": "036000291452", "marketplace": "UK"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="scan-form"' in html
    assert 'data-status="barcode"' in html
    assert "UPC-A 036000291452" in html
    assert f"https://www.amazon.co.uk/dp/{code_asins('0036000291452')[0]}" in html


@pytest.mark.parametrize(
    ("code", "status", "error_code"),
    [
        ("4006381333932", 400, "invalid_code"),
        (NOT_FOUND_CODE, 404, "product_not_found"),
        (OUTAGE_CODE, 503, "upstream_unavailable"),
    ],
)
def test_a_barcode_that_fails_answers_the_error_uncharged(client, user, code, status, error_code):
    response = client.post("/convert/scan/", {"fnsku": code, "marketplace": "US"}, **JSON)

    assert response.status_code == status
    body = response.json()
    assert body["ok"] is False
    assert body["fnsku"] == code
    assert body["error"]["code"] == error_code
    assert body["error"]["message"] in body["html"].replace("&#x27;", "'")
    assert balance_get(user=user) == 10


def test_fnskus_are_still_converted(client):
    response = client.post("/convert/scan/", {"fnsku": "B07N4M94X4", "marketplace": "US"}, **JSON)
    assert response.json()["conversion"]["asin"] == "B07N4M94X4"
