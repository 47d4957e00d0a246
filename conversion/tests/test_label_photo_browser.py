"""A label photo converted on the convert page, in a real headless Chromium on a phone (390 x 844)."""

import random

import pytest

from accounts.tests.factories import PASSWORD
from conversion.evaluation.label_images import Label, photo, render_label
from conversion.models import Conversion
from conversion.tests.conftest import lookalike_pair
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_phone_converts_a_photo_of_a_label(browser_page, live_server, tmp_path):
    page = browser_page
    base = live_server.url
    user = funded_user(credits=10)
    asin_a, title_a, _, _ = lookalike_pair()
    label = tmp_path / "label.jpg"
    label.write_bytes(photo(render_label(Label("X00PHONE01", title_a, "Used - Good")), rng=random.Random(7)))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    page.nav("Convert")
    page.wait_for_url(f"{base}/convert/")
    photo_input = page.get_by_label("Photo of the label")
    assert photo_input.get_attribute("capture") == "environment"
    assert photo_input.get_attribute("accept") == "image/*"
    photo_input.set_input_files(str(label))
    page.get_by_role("button", name="Read and convert").click()
    page.wait_for_url(f"{base}/convert/label/")

    card = page.locator("#result-card")
    card.wait_for()
    assert card.locator("#result-asin").inner_text() == asin_a
    read = page.locator("#label-read").inner_text()
    assert "X00PHONE01" in read
    assert "Used - Good" in read
    no_sideways_scroll = page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert no_sideways_scroll
    page.shot("label-photo-phone")
    assert errors == []
    assert Conversion.objects.get(user=user).fnsku == "X00PHONE01"
    assert balance_get(user=user) == 8
