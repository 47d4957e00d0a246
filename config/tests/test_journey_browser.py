"""A seller's whole journey in a real headless Chromium, against a live server
with a real Celery worker: sign up, confirm the email, log in, buy credits in
the sandbox checkout, look up an ASIN, run a bulk CSV job to 100% and download
its results, convert an FNSKU on the scanner page, create and revoke an API
key, and see the usage chart. A screenshot per step goes to
test-artifacts/screenshots/journey-NN-<step>.png."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from itertools import count
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import PASSWORD
from billing.tests.factories import CreditPackFactory
from conftest import save_screenshot
from conversion.tests.factories import FnskuMappingFactory
from credits.selectors import balance_get
from jobs.models import BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, asins
from jobs.tests.test_bulk_worker import QUICK
from products.models import LookupLog

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
EMAIL = "journey.seller@example.com"
LOOKUP_ASIN = "B0JOURNEY1"
FNSKU, FNSKU_ASIN = "X001JOURNY", "B0JOURNEY2"


def test_a_seller_journey_from_sign_up_to_usage_chart(browser_page, live_server, celery_workers, tmp_path):
    celery_workers.start("journey", env={**QUICK, "SANDBOX_LATENCY_MS": "300", "BULK_CHUNK_SIZE": "4"})
    page = browser_page
    base = live_server.url
    CreditPackFactory(name="Journey Starter", credits=500, price=900, order=1)
    step = count(1)

    def shot(name: str) -> None:
        save_screenshot(page, SCREENSHOTS / f"journey-{next(step):02d}-{name}.png")

    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 500 or ("/static/" in r.url and r.status >= 400)
            else None
        ),
    )

    # Sign up.
    page.goto(f"{base}/")
    page.get_by_role("link", name="Create a free account").click()
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    shot("signup")
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(f"{base}/accounts/confirm-email/")
    shot("check-your-email")

    # Confirm the email from the message the platform sent.
    assert mail.outbox[-1].to == [EMAIL]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body).group(1)
    page.goto(f"{base}{link}")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{base}/")
    shot("confirmed")

    # Log out and in again with the new password.
    page.locator("#site-nav .nav-user > summary").click()  # the account menu, under the e-mail address
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    shot("dashboard")
    user = User.objects.get(email=EMAIL)
    free = settings.SIGNUP_FREE_CREDITS
    assert balance_get(user=user) == free

    # Buy a pack in the sandbox checkout.
    page.nav("Billing")
    page.wait_for_url(f"{base}/billing/")
    page.get_by_role("button", name="Buy the Journey Starter pack").click()
    page.wait_for_url(re.compile(r".*/billing/sandbox/sandbox_cs_[0-9a-f]+/$"))
    shot("sandbox-checkout")
    page.get_by_role("button", name="Pay $9.00 (sandbox)").click()
    page.wait_for_url(re.compile(r".*/billing/success/\?session_id=sandbox_cs_[0-9a-f]+$"))
    assert page.locator("#credits-granted").inner_text().startswith("500 credits were added")
    assert page.locator("#credit-balance").inner_text() == f"{free + 500}"
    shot("purchased")
    balance = free + 500
    assert balance_get(user=user) == balance

    # Look up an ASIN (1 credit).
    page.nav("Lookup")
    page.wait_for_url(f"{base}/products/")
    page.fill("input[name=asin]", LOOKUP_ASIN.lower())
    page.get_by_role("button", name="Look up").click()
    page.wait_for_selector("#product-card")
    assert f"{LOOKUP_ASIN} on Amazon US" in page.locator("#product-card").inner_text()
    balance -= 1
    assert page.locator("#credits-remaining").inner_text() == f"{balance}"
    assert LookupLog.objects.filter(user=user, asin=LOOKUP_ASIN).count() == 1
    shot("lookup")

    # A bulk CSV: 12 ASINs the sandbox knows and one it does not.
    upload = tmp_path / "journey.csv"
    bulk_asins = asins(12, start=700)
    upload.write_text("ASIN\n" + "".join(f"{a}\n" for a in bulk_asins) + f"{NOT_FOUND}\n")
    page.nav("Bulk")
    page.wait_for_url(f"{base}/bulk/")
    page.set_input_files("input[name=file]", str(upload))
    shot("bulk-upload")
    page.get_by_role("button", name="Upload and start").click()
    page.wait_for_url(re.compile(r".*/bulk/\d+/$"))
    job = BulkJob.objects.get(user=user)
    assert page.locator(".message.success").inner_text().startswith(f"Job #{job.pk} queued: 13 items")
    page.wait_for_function(
        "() => document.getElementById('job-percent').textContent.trim() === '100%'", timeout=60_000
    )
    assert page.locator("#job-status").inner_text() == "Completed"
    assert page.locator("#job-progress-bar").get_attribute("value") == "13"
    assert page.locator("#job-succeeded").inner_text() == "12"
    assert page.locator("#job-failed").inner_text().startswith("1")
    shot("bulk-done")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(download_info.value.path().read_text())))
    assert len(rows) == 13
    assert {r["input"] for r in rows} == {*bulk_asins, NOT_FOUND}
    assert {r["asin"] for r in rows if r["status"] == "succeeded"} == set(bulk_asins)
    balance -= 12
    assert balance_get(user=user) == balance

    # Convert an FNSKU on the scanner page (a mapping the platform learned before).
    seen = timezone.now() - timedelta(days=2)
    FnskuMappingFactory(
        fnsku=FNSKU,
        marketplace="US",
        asin=FNSKU_ASIN,
        first_seen=seen,
        last_seen=seen,
        times_confirmed=2,
        times_seen=2,
    )
    page.nav("Convert")
    page.wait_for_url(f"{base}/convert/")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'id_fnsku'")
    page.keyboard.type(f"{FNSKU}\n", delay=5)
    page.wait_for_selector("#result-card[data-status]")
    assert page.inner_text("#result-asin") == FNSKU_ASIN
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 1")
    shot("convert")
    balance -= 2
    assert balance_get(user=user) == balance

    # Create an API key, use it, revoke it.
    page.nav("API keys")
    page.wait_for_url(f"{base}/keys/")
    page.fill("input[name=name]", "Journey key")
    page.get_by_role("button", name="Create key").click()
    raw_key = page.locator("#new-key-value").inner_text().strip()
    shot("key-created")
    me = requests.get(
        f"{base}/api/v1/credits/balance", headers={"Authorization": f"Bearer {raw_key}"}, timeout=10
    )
    assert me.status_code == 200
    assert me.json()["balance"] == balance
    page.goto(f"{base}/keys/")
    page.get_by_role("button", name="Revoke").click()
    assert page.get_by_text("revoked").first.is_visible()
    shot("key-revoked")
    refused = requests.get(
        f"{base}/api/v1/credits/balance", headers={"Authorization": f"Bearer {raw_key}"}, timeout=10
    )
    assert refused.status_code == 401

    # The usage chart draws today's spending on a canvas.
    page.nav("Credits")
    page.wait_for_url(f"{base}/credits/")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('usage-chart'))")
    spent_today = page.evaluate(
        "() => Object.fromEntries(Chart.getChart(document.getElementById('usage-chart')).data.datasets"
        ".map(d => [d.label, d.data[d.data.length - 1]]))"
    )
    assert spent_today == {"ASIN lookup": 1, "Bulk job item": 12, "FNSKU conversion": 2}
    canvas = page.locator("#usage-chart").bounding_box()
    assert canvas is not None
    assert canvas["width"] > 100
    assert canvas["height"] > 50
    assert page.locator("#credit-balance").inner_text().startswith(f"{balance}")
    shot("usage-chart")

    assert errors == []
