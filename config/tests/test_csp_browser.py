"""The main pages in a real headless Chromium under the Content-Security-Policy: no violation.

Chromium reports each refused script, style, image or connection both as a
``securitypolicyviolation`` event in the page and as a console error; both are
recorded from before the first script runs, on every page visited.
"""

from __future__ import annotations

import pytest

from accounts.tests.factories import PASSWORD, UserFactory
from credits.tests.factories import funded_user
from jobs.tests.bulk_helpers import asins, create_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


def watch(page) -> list[str]:
    problems: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}") if "Content Security Policy" in msg.text else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def visit(page, url: str, problems: list[str], ready: str | None = None) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if ready:
        page.wait_for_selector(ready)
    problems.extend(f"{url}: {v}" for v in page.evaluate("window.__cspViolations"))


def sign_in(page, base: str, user) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")


def test_public_pages_raise_no_violation(browser_page, live_server):
    page = browser_page
    problems = watch(page)
    for path in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        visit(page, live_server.url + path, problems)

    assert problems == []


def test_signed_in_pages_raise_no_violation(browser_page, live_server):
    page = browser_page
    user = funded_user(credits=100)
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    job = create_job(user, asins(3))
    problems = watch(page)
    sign_in(page, live_server.url, user)

    base = live_server.url
    visit(page, f"{base}/", problems)
    visit(page, f"{base}/products/", problems)
    # A lookup through the page: its script posts the form and draws the price chart.
    page.fill("#lookup-form input[name=asin]", "B08N5WRWNW")
    page.locator("#lookup-form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("canvas")
    problems.extend(page.evaluate("window.__cspViolations"))
    page.shot("lookup")
    for path in (
        "/convert/",
        "/convert/history/",
        "/bulk/",
        f"/bulk/{job.pk}/",
        "/credits/",
        "/billing/",
        "/analytics/",
        "/analytics/operators/",
        "/keys/",
        "/watchlists/",
        "/collections/",
        "/webhooks/",
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{user.pk}/change/",
    ):
        visit(page, base + path, problems)
    assert page.url.endswith(f"/admin/accounts/user/{user.pk}/change/")  # still signed in
    visit(page, f"{base}/api/docs/", problems, ready=".swagger-ui .info")
    page.shot("swagger")
    visit(page, f"{base}/api/redoc/", problems, ready="[role=search], .api-content")
    page.shot("redoc")

    assert problems == []


def test_a_refused_inline_script_is_reported(browser_page, live_server):
    """The watch itself works: a page of the platform with a script injected inline is reported."""
    page = browser_page
    problems = watch(page)
    UserFactory()
    visit(page, f"{live_server.url}/accounts/login/", problems)
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)

    assert page.evaluate("window.x") is None
    assert any("script-src" in v for v in page.evaluate("window.__cspViolations"))
