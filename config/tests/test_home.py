"""The home page as the apps together make it: the landing page's pricing (billing's packs, the
ledger's prices, the signup bonus) and the dashboard's first-run checklist (each app's step)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from accounts.tests.factories import UserFactory, api_key_for
from billing.models import CreditPack
from billing.tests.factories import CreditPackFactory
from conversion.models import Conversion
from conversion.tests.factories import ConversionFactory
from credits import services as credit_services
from credits.models import Operation
from credits.selectors import price_cache_clear
from credits.tests.factories import funded_user, new_key
from products.tests.factories import LookupLogFactory
from watchlists.tests.factories import WatchlistFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _prices_forgotten() -> Iterator[None]:
    price_cache_clear()
    yield
    price_cache_clear()  # a price set in a test is rolled back with it


def _landing(client: Client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def _row(html: str, action: str) -> str:
    match = re.search(rf'<tr data-action="{action}">(.*?)</tr>', html, re.S)
    assert match, f"no {action} row"
    return match.group(1)


def _credits_cell(html: str, action: str) -> str:
    match = re.search(r'<td class="num">([^<]*)</td>', _row(html, action))
    assert match
    return match.group(1).strip()


def _pack(html: str, pack: CreditPack) -> str:
    match = re.search(rf'<article class="card" data-pack="{pack.pk}">(.*?)</article>', html, re.S)
    assert match, f"pack {pack.pk} not shown"
    return match.group(1)


# --- The landing page's pricing ---------------------------------------------------------------


def test_landing_shows_the_active_packs_with_their_price_and_price_per_credit(client):
    CreditPack.objects.all().delete()
    starter = CreditPackFactory(name="Starter", credits=500, price=900, currency="usd")
    big = CreditPackFactory(name="Pallet", credits=10_000, price=12_000, currency="eur")
    retired = CreditPackFactory(name="Retired", active=False)

    html = _landing(client)

    assert "Starter" in _pack(html, starter)
    assert "500</strong> credits" in _pack(html, starter)
    assert "$9.00" in _pack(html, starter)
    assert "$0.0180 per credit" in _pack(html, starter)
    assert "10,000</strong> credits" in _pack(html, big)
    assert "€120.00" in _pack(html, big)
    assert "€0.0120 per credit" in _pack(html, big)
    assert f'data-pack="{retired.pk}"' not in html


def test_a_changed_pack_price_shows_on_the_landing_page(client):
    pack = CreditPackFactory(name="Starter", credits=500, price=900)
    assert "$9.00" in _pack(_landing(client), pack)

    pack.price = 1250
    pack.save()

    shown = _pack(_landing(client), pack)
    assert "$12.50" in shown
    assert "$0.0250 per credit" in shown
    assert "$9.00" not in shown


def test_landing_without_packs_on_sale_says_so(client):
    CreditPack.objects.update(active=False)

    html = _landing(client)

    assert 'id="no-packs"' in html
    assert "data-pack=" not in html


def test_landing_shows_each_actions_price_from_the_ledgers_prices(client):
    html = _landing(client)
    assert _credits_cell(html, "asin_lookup") == "1"
    assert _credits_cell(html, "fnsku_conversion") == "2"
    for action in ("asin_lookup", "code_lookup", "fnsku_conversion", "bulk_item", "watchlist_refresh"):
        assert _row(html, action)

    credit_services.price_set(operation=Operation.ASIN_LOOKUP, credits=3)
    credit_services.price_set(operation=Operation.CODE_LOOKUP, credits=4)
    credit_services.price_set(operation=Operation.FNSKU_CONVERSION, credits=5)
    credit_services.price_set(operation=Operation.BULK_ITEM, credits=6)
    price_cache_clear()  # price_set's own clear waits for a commit this test never makes

    html = _landing(client)
    assert _credits_cell(html, "asin_lookup") == "3"
    assert _credits_cell(html, "code_lookup") == "4"
    assert _credits_cell(html, "fnsku_conversion") == "5"
    assert _credits_cell(html, "bulk_item") == "6"
    # A watchlist refresh and a profit calculation are charged at the ASIN lookup's price.
    assert _credits_cell(html, "watchlist_refresh") == "3"
    assert _credits_cell(html, "product_profit") == "3"


def test_landing_lists_the_actions_in_a_fixed_order(client):
    html = _landing(client)
    order = re.findall(r'<tr data-action="([a-z_]+)">', html)
    assert order == [
        "asin_lookup",
        "code_lookup",
        "fnsku_conversion",
        "bulk_item",
        "watchlist_refresh",
        "product_profit",
    ]


def test_landing_shows_the_configured_signup_credits(client, settings):
    assert "50 free credits" in _landing(client)

    settings.SIGNUP_FREE_CREDITS = 75
    html = _landing(client)
    assert "75 free credits" in html
    assert "50 free credits" not in html


def test_landing_without_signup_credits_promises_none(client, settings):
    settings.SIGNUP_FREE_CREDITS = 0

    html = _landing(client)

    assert 'id="free-credits"' not in html
    assert "free credits" not in html.replace("Start with the free credits", "")


def test_landing_shows_a_picture_of_a_lookup_with_a_text_alternative(client):
    html = _landing(client)

    svg = re.search(r"<svg[^>]*product-shot[^>]*>", html)
    assert svg is not None
    assert 'role="img"' in svg.group(0)
    assert 'aria-labelledby="shot-title shot-desc"' in svg.group(0)
    assert '<title id="shot-title">' in html
    assert "B08N5WRWNW" in html


# --- The dashboard's first-run checklist ---------------------------------------------------------


def _steps(client: Client) -> dict[str, bool] | None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    if 'id="first-steps"' not in html:
        return None
    steps = re.findall(r'<li class="checklist-step( done)?" data-step="([a-z_]+)">', html)
    return {key: bool(done) for done, key in steps}


def test_a_new_users_checklist_has_every_step_to_do_with_links(client):
    user = funded_user(credits=50)
    EmailAddress.objects.filter(user=user).update(verified=False)
    client.force_login(user)

    assert _steps(client) == {
        "verify_email": False,
        "first_lookup": False,
        "api_key": False,
        "credits": False,
        "watchlist": False,
    }
    html = client.get("/").content.decode()
    assert "0 of 5 done" in html
    assert 'href="/accounts/email/"' in html
    assert 'href="/products/"' in html
    assert 'href="/keys/"' in html
    assert 'href="/watchlists/"' in html
    assert "came with 50 free credits" in html


def test_checklist_steps_tick_as_the_user_does_things(client):
    user = funded_user(credits=50)
    EmailAddress.objects.filter(user=user).update(verified=False)
    client.force_login(user)

    EmailAddress.objects.filter(user=user).update(verified=True)
    assert _steps(client)["verify_email"] is True  # type: ignore[index]

    LookupLogFactory(user=user)
    assert _steps(client)["first_lookup"] is True  # type: ignore[index]

    api_key_for(user)
    assert _steps(client)["api_key"] is True  # type: ignore[index]

    credit_services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    assert _steps(client)["credits"] is True  # type: ignore[index]

    html = client.get("/").content.decode()
    assert "4 of 5 done" in html

    WatchlistFactory(user=user)
    # Every step done: the checklist is gone.
    assert _steps(client) is None


def test_a_conversion_counts_as_the_first_lookup(client):
    user = UserFactory()
    client.force_login(user)
    ConversionFactory(user=user)  # still pending: not a conversion the user got
    assert _steps(client)["first_lookup"] is False  # type: ignore[index]

    ConversionFactory(user=user, status=Conversion.Status.RESOLVED)

    assert _steps(client)["first_lookup"] is True  # type: ignore[index]


def test_a_barcode_lookup_counts_as_the_first_lookup(client):
    user = funded_user(credits=5)
    client.force_login(user)

    credit_services.credits_charge(
        user=user,
        operation=Operation.CODE_LOOKUP,
        idempotency_key=new_key(),
        reference="US:0012345678905 (UPC)",
    )

    assert _steps(client)["first_lookup"] is True  # type: ignore[index]


def test_buying_credits_completes_the_credits_step(client):
    user = funded_user(credits=0)
    client.force_login(user)
    assert _steps(client)["credits"] is False  # type: ignore[index]

    credit_services.credits_grant(user=user, amount=500, kind="purchase", reference="payment:1")

    assert _steps(client)["credits"] is True  # type: ignore[index]


def test_another_users_activity_ticks_nothing(client):
    user = UserFactory()
    other = funded_user(credits=10)
    LookupLogFactory(user=other)
    api_key_for(other)
    WatchlistFactory(user=other)
    client.force_login(user)

    steps = _steps(client)

    assert steps is not None
    assert steps["first_lookup"] is False
    assert steps["api_key"] is False
    assert steps["watchlist"] is False
