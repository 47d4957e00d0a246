import pytest

from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.models import LookupLog

pytestmark = pytest.mark.django_db

PAGE = "/products/"


def test_lookup_page_needs_login(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_lookup_page_shows_a_product_card_labelled_as_sample(client):
    user = funded_user(credits=5)
    client.force_login(user)

    response = client.post(PAGE, {"asin": "b08n5wrwnw", "marketplace": "UK"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="product-card"' in html
    assert "Sample data" in html
    assert "B08N5WRWNW on Amazon UK" in html
    assert "£" in html  # prices in the currency's symbol, not its code
    assert 'id="history-chart-data"' in html
    assert balance_get(user=user) == 4
    assert LookupLog.objects.get(user=user).channel == "page"
    assert "B08N5WRWNW" in html.split("Your recent lookups")[1]


@pytest.mark.parametrize(
    ("asin", "message"),
    [("NOT-AN-ASIN", "ASIN"), ("B000000404", "No product"), ("B000000503", "try again")],
)
def test_lookup_page_explains_failures_and_charges_nothing(client, asin, message):
    user = funded_user(credits=5)
    client.force_login(user)

    response = client.post(PAGE, {"asin": asin, "marketplace": "US"})

    html = response.content.decode()
    assert response.status_code in {400, 404, 503}
    assert 'id="lookup-error"' in html
    assert message in html
    assert 'id="product-card"' not in html
    assert balance_get(user=user) == 5


def test_lookup_page_without_credits_points_to_billing(client):
    user = funded_user(credits=0)
    client.force_login(user)

    response = client.post(PAGE, {"asin": "B08N5WRWNW", "marketplace": "US"})

    assert response.status_code == 402
    html = response.content.decode()
    assert "Insufficient credits" in html
    assert 'href="/billing/"' in html
