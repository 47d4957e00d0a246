"""The lookup page takes a barcode as well as an ASIN (told apart by shape)."""

import pytest
from django.test import Client

from accounts.tests.factories import PASSWORD
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.models import LookupLog, Product
from products.providers.sandbox import NOT_FOUND_CODE, OUTAGE_CODE, code_asins

pytestmark = pytest.mark.django_db

PAGE = "/products/"
SEVERAL = "5901234123457"  # three ASINs in the sandbox


@pytest.fixture
def user_credits():
    return 5


@pytest.fixture
def client(user):
    client = Client(enforce_csrf_checks=True)
    assert client.login(email=user.email, password=PASSWORD)
    return client


def post(client, data):
    """Submit the form as a browser would: with the CSRF token the page gave."""
    page = client.get(PAGE)
    token = page.cookies["csrftoken"].value
    return client.post(PAGE, {**data, "csrfmiddlewaretoken": token})


def test_the_form_invites_a_barcode(client):
    html = client.get(PAGE).content.decode()
    assert "ASIN or barcode" in html
    assert "4006381333931" in html  # the placeholder's example


def test_a_barcode_shows_the_products_that_carry_it(client, user):
    response = post(client, {"asin": "590-1234-12345-7", "marketplace": "DE"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="code-result"' in html
    assert "EAN-13 5901234123457: 3 products in DE" in html
    for asin in code_asins(SEVERAL):
        assert f'data-asin="{asin}"' in html
        assert f"https://www.amazon.de/dp/{asin}" in html
    assert "€" in html  # prices in the currency's symbol, not its code
    assert "Sample data" in html
    assert 'id="product-card"' not in html
    assert balance_get(user=user) == 4
    (charge,) = LedgerEntry.objects.filter(account__user=user, kind="charge")
    assert charge.operation == "code_lookup"
    assert not LookupLog.objects.exists()  # not an ASIN lookup


def test_full_details_of_a_match_is_an_asin_lookup_served_from_the_cache(client, user):
    asin = code_asins(SEVERAL)[1]
    post(client, {"asin": SEVERAL, "marketplace": "US"})

    response = post(client, {"asin": asin, "marketplace": "US"})

    html = response.content.decode()
    assert 'id="product-card"' in html
    assert "served from cache" in html
    assert balance_get(user=user) == 3
    assert Product.objects.filter(asin=asin).count() == 1


def test_a_ten_character_code_is_an_asin(client, user):
    # An ISBN-10 is its book's ASIN: looked up as one (the sandbox knows every ASIN).
    response = post(client, {"asin": "0306406152", "marketplace": "US"})
    html = response.content.decode()
    assert 'id="product-card"' in html
    assert 'id="code-result"' not in html
    assert LookupLog.objects.get(user=user).asin == "0306406152"


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("4006381333932", 400, "check digit should be 1, not 2"),
        (NOT_FOUND_CODE, 404, f"No product with EAN-13 {NOT_FOUND_CODE}"),
        (OUTAGE_CODE, 503, "Try again in 30 s."),
    ],
)
def test_a_barcode_that_fails_is_explained_and_not_charged(client, user, code, status, message):
    response = post(client, {"asin": code, "marketplace": "US"})

    assert response.status_code == status
    html = response.content.decode()
    assert 'id="lookup-error"' in html
    assert message in html
    assert 'id="code-result"' not in html
    assert balance_get(user=user) == 5


def test_a_barcode_without_credits_points_to_billing(client, user):
    broke = funded_user(credits=0)
    client.logout()
    assert client.login(email=broke.email, password=PASSWORD)

    response = post(client, {"asin": SEVERAL, "marketplace": "US"})

    assert response.status_code == 402
    assert "Buy credits" in response.content.decode()


def test_barcode_lookups_are_in_the_recent_lookups(client, user):
    post(client, {"asin": SEVERAL, "marketplace": "DE"})
    post(client, {"asin": NOT_FOUND_CODE, "marketplace": "US"})

    recent = client.get(PAGE).content.decode().split("Your recent lookups")[1]

    assert f"Barcode <code>{SEVERAL}</code>" in recent
    assert f"Barcode <code>{NOT_FOUND_CODE}</code>" in recent
    assert "Not Found" in recent  # the refunded one
    assert balance_get(user=user) == 4
