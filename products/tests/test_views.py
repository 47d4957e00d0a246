import pytest

from credits.selectors import balance_get
from credits.tests.factories import funded_user
from products.models import LookupLog
from products.tests.conftest import KEEPA_PRODUCT_URL, LWA_URL, SPAPI_NA, load_fixture

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


def test_lookup_page_shows_keepas_monthly_sold_and_rank_drops_with_their_source(
    client, settings, keepa_settings, rsps
):
    settings.PRODUCT_PROVIDERS = ["keepa"]
    body = load_fixture("keepa/product-response.json")
    product = body["products"][0]
    product.update(monthlySold=1000, lastSoldUpdate=8326800)
    product["stats"].update(salesRankDrops30=24, salesRankDrops90=71)
    rsps.get(KEEPA_PRODUCT_URL, json=body)
    client.force_login(funded_user(credits=5))

    html = client.post(PAGE, {"asin": "B0TESTKEEP", "marketplace": "US"}).content.decode()

    sold = html.split('id="monthly-sold">')[1].split("</dd>")[0]
    drops = html.split('id="rank-drops">')[1].split("</dd>")[0]
    assert "Sold last month" in html
    assert "Rank drops 30 d / 90 d" in html
    assert sold.startswith("1,000+ ")
    assert "(Keepa, as of 31 Oct 2026" in sold
    assert drops.startswith("24 / 71 ")
    assert "(Keepa, as of 31 Oct 2026" in drops
    assert "sample" not in sold + drops


def test_lookup_page_says_sp_api_has_no_sales_figure(client, settings, spapi_settings, rsps):
    import re

    settings.PRODUCT_PROVIDERS = ["spapi"]
    rsps.post(LWA_URL, json={"access_token": "Atza|t", "token_type": "bearer", "expires_in": 3600})
    item = load_fixture("spapi/getCatalogItem.200.json")
    rsps.get(re.compile(re.escape(SPAPI_NA) + r"/catalog/2022-04-01/items/\w+"), json=item)
    rsps.get(
        re.compile(re.escape(SPAPI_NA) + r"/products/pricing/v0/items/\w+/offers"),
        json=load_fixture("spapi/getItemOffers.200.consumer.json"),
    )
    client.force_login(funded_user(credits=5))

    html = client.post(PAGE, {"asin": item["asin"], "marketplace": "US"}).content.decode()

    assert html.split('id="monthly-sold">')[1].split("</dd>")[0] == "Not available from SP-API"
    assert 'id="rank-drops"' not in html


def test_lookup_page_marks_the_sandboxs_sales_figures_as_sample(client):
    client.force_login(funded_user(credits=5))

    html = client.post(PAGE, {"asin": "B08N5WRWNW", "marketplace": "US"}).content.decode()

    drops = html.split('id="rank-drops">')[1].split("</dd>")[0]
    assert "(Sandbox, sample, as of" in drops
