"""The webhooks page in a real headless Chromium, with a real local receiver."""

import pytest

from accounts.tests.factories import PASSWORD, UserFactory
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tests.receiver import verify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_an_endpoint_ping_it_and_see_the_delivery(browser_page, live_server, receiver):
    page = browser_page
    base = live_server.url
    user = UserFactory()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")

    page.nav("Webhooks")
    page.fill("input[name=url]", receiver.url)
    page.get_by_label("bulk_job.finished", exact=False).check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#new-secret-value").inner_text().strip()
    assert secret.startswith("whsec_")
    page.shot("endpoint-added")

    page.get_by_role("link", name=receiver.url).first.click()
    page.get_by_role("button", name="Send test ping").click()
    assert page.get_by_text("Test ping queued").is_visible()
    services.webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get().pk)
    page.reload()
    assert page.locator('[data-status="succeeded"]').is_visible()
    page.shot("ping-delivered")

    [request] = receiver.received
    assert verify(secret=secret, body=request.body, header=request.headers["X-Webhook-Signature"])
