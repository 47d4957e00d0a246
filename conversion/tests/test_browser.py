"""The convert page in a real headless Chromium, used as a barcode scanner uses it."""

import csv
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from conversion.models import Conversion, ConversionFeedback
from conversion.tests.factories import FnskuMappingFactory
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORED_ASIN = "B0TESTKEEP"


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement && document.activeElement.id")


def test_scanner_page_converts_without_reload_and_keeps_a_running_list(browser_page, live_server):
    page = browser_page
    base = live_server.url
    user = funded_user(credits=40)
    seen = timezone.now() - timedelta(days=3)
    FnskuMappingFactory(
        fnsku="X001SCANME",
        marketplace="US",
        asin=STORED_ASIN,
        first_seen=seen,
        last_seen=seen,
        times_confirmed=3,
        times_seen=3,
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 500 or (r.status >= 400 and "/static/" in r.url)
            else None
        ),
    )

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    page.nav("Convert")
    page.wait_for_url(f"{base}/convert/")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'id_fnsku'")
    page.shot("ready")

    # A marker that a page reload would wipe out.
    page.evaluate("() => { window.__noReload = true; }")

    # A scanner types the code fast and ends with Enter.
    page.keyboard.type("x001scanme\n", delay=5)
    page.wait_for_selector("#result-card[data-status]")
    assert page.inner_text("#result-asin") == STORED_ASIN
    # Users confirmed a real ASIN: the sandbox's made-up title and image are never attached to it.
    assert "[SAMPLE]" not in page.inner_text("#result-title")
    assert page.locator("#result-card img").count() == 0
    assert page.locator("#result-sample").count() == 0
    assert page.get_attribute("#result-confidence", "class") == "confidence high"
    assert page.evaluate("() => window.__noReload") is True
    assert focused_id(page) == "id_fnsku"
    assert page.input_value("#id_fnsku") == ""
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 1")
    page.shot("first-scan")

    # The next scans: a stickerless code, then a code with a typo.
    page.keyboard.type("B07N4M94X4\n", delay=5)
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 2")
    page.keyboard.type("X001SCAN\n", delay=5)
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 3")
    page.wait_for_selector("#result-card[data-status=error]")
    assert "exactly 10 characters" in page.inner_text("#result-card")
    assert focused_id(page) == "id_fnsku"
    assert page.evaluate("() => window.__noReload") is True
    rows = page.locator("#scan-list tbody tr")
    assert rows.nth(0).inner_text().split("\t")[1] == "X001SCAN"  # newest first
    assert "B07N4M94X4" in rows.nth(1).inner_text()
    page.shot("three-scans")

    # A rescan of the same code is answered from the first conversion, not charged again; the
    # sandbox's answer carries its badge. Feedback from the card keeps the scanner's focus.
    page.keyboard.type("B07N4M94X4\n", delay=5)
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 4")
    assert "not charged again" in page.inner_text("#result-rescan")
    assert page.inner_text("#result-sample") == "Sample data"
    page.get_by_role("button", name="Right ✓").click()
    page.wait_for_function(
        "() => document.querySelector('[data-feedback-status]').textContent.includes('confirmed')"
    )
    assert focused_id(page) == "id_fnsku"
    assert ConversionFeedback.objects.get().verdict == "confirmed"

    # The paste box converts many codes one after another, into the same list.
    page.fill("#paste-codes", "B08N5WRWNW\nX001SCANME\n")
    page.get_by_role("button", name="Convert all").click()
    page.wait_for_function("() => document.getElementById('paste-progress').textContent.startsWith('Done')")
    assert "2 of 2 found" in page.inner_text("#paste-progress")
    assert page.locator("#scan-list tbody tr").count() == 6
    page.shot("after-paste")

    # The list survives a reload of the tab, and exports as CSV.
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 6")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    lines = download_info.value.path().read_text().splitlines()
    assert lines[0] == (
        "scanned_at,fnsku,marketplace,asin,title,confidence,status,sample_data,provider,conversion_id"
    )
    assert len(lines) == 1 + 6
    assert [line.split(",")[1] for line in lines[1:3]] == ["X001SCANME", "B07N4M94X4"]
    assert lines[1].split(",")[3] == STORED_ASIN
    parsed = list(csv.DictReader(lines))
    assert (parsed[0]["sample_data"], parsed[0]["provider"]) == ("false", "")
    assert (parsed[1]["sample_data"], parsed[1]["provider"]) == ("true", "sandbox")

    # Three answers logged and charged (2 each): the rescans of B07N4M94X4 and X001SCANME within
    # 24 hours were answered free, and the typo was refused before anything was charged.
    assert Conversion.objects.filter(user=user, channel="page").count() == 3
    assert balance_get(user=user) == 40 - 3 * 2

    # The history page lists them, newest first, with the same feedback buttons.
    page.get_by_role("link", name="Your past conversions").click()
    page.wait_for_url(f"{base}/convert/history/")
    history = page.locator("#history-list tbody tr")
    assert history.count() == 3
    assert "B08N5WRWNW" in history.nth(0).inner_text()
    history.nth(0).get_by_role("button", name="Right ✓").click()
    page.wait_for_url(f"{base}/convert/history/")
    assert "Thanks: you confirmed B08N5WRWNW is B08N5WRWNW." in page.inner_text(".messages")
    page.shot("history")
    assert errors == []
