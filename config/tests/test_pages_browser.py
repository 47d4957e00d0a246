"""Every page a person can reach, in a real headless Chromium, at a desk (1366x900) and on a
phone (390x844):

- nothing scrolls sideways on the phone (``scrollWidth`` <= the viewport) and its header, menu
  closed, is at most 80 px tall;
- axe-core (the npm package, evaluated in the page) finds no serious or critical violation;
- the page's HTML, CSS and JS together weigh under 300 KB (decoded, the strictest count);
- no script error, no asset failing to load;
- a screenshot of each page at each size goes to test-artifacts/screenshots/pages/.

``PAGES`` lists the pages; ``test_every_page_is_checked`` walks the URLconf so a new page cannot
be left out without a reason in ``NOT_PAGES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from conftest import SCREENSHOT_DIR, save_screenshot

BASE_DIR = Path(__file__).resolve().parents[2]
AXE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
WEIGHT_LIMIT = 300 * 1024
HEADER_LIMIT = 80


@dataclass
class World:
    """One signed-in user's rows, made through the services where they charge or sign."""

    user: Any
    job: Any
    watchlist: Any
    item: Any
    collection: Any
    endpoint: Any
    delivery: Any
    sandbox_session: str
    payment: Any
    manifest: Any


# url name -> (path from the world, signed in, staff)
Page = tuple[Callable[[World], str], str]
PUBLIC, USER, STAFF = "public", "user", "staff"
PAGES: dict[str, Page] = {
    "home": (lambda w: "/", USER),
    "landing": (lambda w: "/", PUBLIC),
    "account_login": (lambda w: "/accounts/login/", PUBLIC),
    "account_signup": (lambda w: "/accounts/signup/", PUBLIC),
    "account_reset_password": (lambda w: "/accounts/password/reset/", PUBLIC),
    "account_change_password": (lambda w: "/accounts/password/change/", USER),
    "account_email": (lambda w: "/accounts/email/", USER),
    "account_logout": (lambda w: "/accounts/logout/", USER),
    "api-docs": (lambda w: "/api/docs/", PUBLIC),
    "api-keys": (lambda w: "/keys/", USER),
    "product-lookup-page": (lambda w: "/products/?asin=B08N5WRWNW&marketplace=US", USER),
    "convert": (lambda w: "/convert/", USER),
    "convert-sources": (lambda w: "/convert/sources/", USER),
    "convert-history": (lambda w: "/convert/history/", USER),
    "bulk-jobs-page": (lambda w: "/bulk/", USER),
    "bulk-job-page": (lambda w: f"/bulk/{w.job.pk}/", USER),
    "manifests-page": (lambda w: "/manifests/", USER),
    "manifest-page": (lambda w: f"/manifests/{w.manifest.pk}/?sort=-profit", USER),
    "watchlists-page": (lambda w: "/watchlists/", USER),
    "watchlist-page": (lambda w: f"/watchlists/{w.watchlist.pk}/", USER),
    "watchlist-edit-page": (lambda w: f"/watchlists/{w.watchlist.pk}/edit", USER),
    "watch-item-page": (lambda w: f"/watchlists/{w.watchlist.pk}/items/{w.item.pk}/", USER),
    "watchlist-notifications": (lambda w: "/watchlists/notifications/", USER),
    "collections-page": (lambda w: "/collections/", USER),
    "collection-new-page": (lambda w: "/collections/new", USER),
    "collection-page": (lambda w: f"/collections/{w.collection.pk}/", USER),
    "collection-edit-page": (lambda w: f"/collections/{w.collection.pk}/edit", USER),
    "collection-delete-page": (lambda w: f"/collections/{w.collection.pk}/delete", USER),
    "credits": (lambda w: "/credits/", USER),
    "billing": (lambda w: "/billing/", USER),
    "billing-sandbox": (lambda w: f"/billing/sandbox/{w.sandbox_session}/", USER),
    "billing-cancel": (lambda w: "/billing/cancel/", USER),
    "billing-receipt": (lambda w: f"/billing/receipts/{w.payment.reference}/", USER),
    "webhooks": (lambda w: "/webhooks/", USER),
    "webhook-trial": (lambda w: "/webhooks/trial/", USER),
    "webhook-endpoint": (lambda w: f"/webhooks/{w.endpoint.pk}/", USER),
    "webhook-delivery": (lambda w: f"/webhooks/deliveries/{w.delivery.pk}/", USER),
    "analytics": (lambda w: "/analytics/", USER),
    "analytics-operators": (lambda w: "/analytics/operators/", STAFF),
    "resale-defaults-page": (lambda w: "/resale/defaults", USER),
    "resale-profit-page": (lambda w: "/resale/profit?asin=B08N5WRWNW&marketplace=US", USER),
}

# Routes that are not pages of their own, and why.
NOT_PAGES: dict[str, str] = {
    "api-redoc": "the API reference's second renderer; the docs page (api-docs) is checked",
    "schema": "the OpenAPI document (YAML), not a page",
    "health": "a probe",
    "health-ready": "a probe",
    "prometheus-django-metrics": "Prometheus' scrape target",
    "api-key-revoke": "a form's POST action",
    "billing-buy": "a form's POST action (redirects to the checkout)",
    "billing-sandbox-cancel": "a form's POST action",
    "billing-success": "needs a completed checkout; the sandbox checkout test lands on it",
    "bulk-job-progress": "an htmx fragment of the job page",
    "bulk-job-items": "an htmx fragment of the job page (its items table; the job page shows it)",
    "bulk-job-cancel-page": "a form's POST action",
    "bulk-job-retry-page": "a form's POST action",
    "bulk-job-results-page": "a CSV or JSON download",
    "manifest-summary": "an htmx fragment of the manifest page (its totals and table)",
    "manifest-start-page": "a form's POST action",
    "manifest-export-page": "a CSV or XLSX download",
    "collection-run-page": "a form's POST action",
    "collection-run-results-page": "a CSV or JSON download",
    "convert-scan": "the scanner form's POST action (its answer is the convert page)",
    "convert-label": "the label photo form's POST action (its answer is the convert page)",
    "convert-bulk": "a form's POST action",
    "convert-feedback": "a form's POST action",
    "credits-threshold": "a form's POST action",
    "watchlist-cost-page": "an htmx fragment (the cost preview)",
    "watch-item-add-page": "a form's POST action",
    "watch-item-delete-page": "a form's POST action",
    "watchlist-delete-page": "a form's POST action",
    "watchlist-import-page": "a form's POST action",
    "watchlist-notifications-read": "a form's POST action",
    "webhook-trial-receive": "the trial receiver's POST endpoint, for webhook deliveries",
    "webhook-endpoint-rotate": "a form's POST action",
    "webhook-endpoint-ping": "a form's POST action",
    "webhook-endpoint-delete": "a form's POST action",
    "manifest-delete-page": "a form's POST action",
    "webhook-delivery-replay": "a form's POST action",
    "resale-profit-panel": "an htmx fragment (the profit panel; resale's browser test checks it)",
}


def _page_names(patterns: list[Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            names |= _page_names(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and pattern.name:
            # The API (its own schema checks), the admin (Django's) and allauth's own
            # pages (below) aside.
            if route.startswith(("api/v1/", "admin/", "accounts/", "static/")):
                continue
            names.add(pattern.name)
    return names


def test_every_page_is_checked():
    names = _page_names(get_resolver().url_patterns)
    unchecked = names - set(PAGES) - set(NOT_PAGES)
    assert not unchecked, f"pages missing from PAGES (or NOT_PAGES, with a reason): {sorted(unchecked)}"
    allauth = {n for n in PAGES if n.startswith("account_")}
    gone = (set(PAGES) | set(NOT_PAGES)) - names - {"landing"} - allauth
    assert not gone, f"listed pages that no longer exist: {sorted(gone)}"


def _world() -> World:
    from accounts.tests.factories import api_key_for
    from billing.checkout import pack_checkout_start
    from billing.tests.factories import CreditPackFactory, paid_payment
    from conversion import convert
    from conversion.tests.factories import FnskuMappingFactory
    from credits.tests.factories import funded_user
    from jobs.models import BulkItem, BulkJob
    from jobs.tests.bulk_helpers import asins
    from jobs.tests.factories import BulkItemFactory, BulkJobFactory, CollectionFactory, CollectionRunFactory
    from products import services as products
    from products.models import LookupLog
    from resale.services import resale_defaults_update
    from watchlists import services as watchlists
    from webhooks.models import WebhookDelivery
    from webhooks.tests.factories import WebhookEndpointFactory

    user = funded_user(500, user__email="reseller@example.com")
    api_key_for(user, "Warehouse scanner")
    for asin in ("B08N5WRWNW", "B07FZ8S74R"):
        products.product_lookup(user=user, asin=asin, channel=LookupLog.Channel.PAGE)
    FnskuMappingFactory(
        fnsku="X001SCANME", marketplace="US", asin="B08N5WRWNW", times_confirmed=3, times_seen=3
    )
    convert.fnsku_convert(user=user, fnsku="X001SCANME")
    resale_defaults_update(user=user, inbound_per_kg="1.10", prep_per_unit="0.35", target_roi_percent="30")
    now = timezone.now()
    job = BulkJobFactory(
        user=user,
        filename="returns-pallet-17.csv",
        total=4,
        status=BulkJob.Status.RUNNING,
        started_at=now - timedelta(minutes=3),
    )
    statuses = [BulkItem.Status.SUCCEEDED, BulkItem.Status.SUCCEEDED, BulkItem.Status.FAILED, "pending"]
    for row, (value, status) in enumerate(zip(asins(4), statuses, strict=True), start=1):
        BulkItemFactory(job=job, row=row, input=value, status=status)
    watchlist = watchlists.watchlist_create(user=user, name="Liquidation picks")
    item = watchlists.watch_item_add(
        watchlist=watchlist, asin="B08N5WRWNW", marketplace="US", thresholds={"price_below": "25.00"}
    )
    collection = CollectionFactory(user=user, name="Daily pallet check")
    CollectionRunFactory(collection=collection)
    endpoint = WebhookEndpointFactory(user=user, url="https://hooks.example.com/warehouse")
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="bulk_job.finished",
        payload={"job": {"id": job.pk}},
        status=WebhookDelivery.Status.SUCCEEDED,
    )
    pack = CreditPackFactory(name="Starter", credits=500, price=900)
    payment = paid_payment(user=user, pack=pack)
    sandbox = pack_checkout_start(user=user, pack_id=pack.pk, success_url="/", cancel_url="/")
    return World(
        user,
        job,
        watchlist,
        item,
        collection,
        endpoint,
        delivery,
        sandbox.session_id,
        payment,
        _manifest(user),
    )


def _manifest(user: Any) -> Any:
    """A manifest of real products, analysed (in this process), and a draft of another."""
    import io

    from jobs.tests.bulk_helpers import run_job
    from resale.manifests import manifest_create, manifest_start
    from resale.tests.manifest_data import bstock_manifest, products

    data = bstock_manifest(products(12, start=40), quantities=[1, 2, 3, 1, 1, 4, 2, 1, 1, 6, 1, 2])
    drafted = manifest_create(
        user=user, file=io.BytesIO(data), size=len(data), filename="draft.csv", lot_price="95.00"
    )
    manifest = manifest_create(
        user=user, file=io.BytesIO(data), size=len(data), filename="bstock-lot-4411.csv", lot_price="420.00"
    )
    run_job(manifest_start(manifest=manifest).pk)
    assert drafted.job is None
    return manifest


def _sign_in(context: Any, base: str, user: Any) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": base}])


MEASURE = """() => {
  const entries = [
    ...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource"),
  ];
  const counted = entries.filter((e) => e.entryType === "navigation" || /\\.(css|js)(\\?|$)/.test(e.name)
    || ["script", "link", "css"].includes(e.initiatorType));
  const header = document.querySelector("header.topbar");
  return {
    weight: counted.reduce((sum, e) => sum + (e.decodedBodySize || 0), 0),
    files: counted.map((e) => [e.name.replace(location.origin, ""), e.decodedBodySize]),
    scrollWidth: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    header: header ? Math.round(header.getBoundingClientRect().height) : 0,
    wide: [...document.querySelectorAll("body *")].filter((el) => {
      const box = el.getBoundingClientRect();
      return box.right > window.innerWidth + 1 && !el.closest(".table-scroll, pre, .chart-box");
    }).slice(0, 5).map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
      + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "")),
  };
}"""

AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.filter((v) => ["serious", "critical"].includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(
      (n) => n.target.join(" ") + " :: " + (n.failureSummary || "").slice(0, 160)),
  }));
}"""


def _check(page: Any, base: str, name: str, path: str, size: str, viewport: dict[str, int]) -> list[str]:
    problems: list[str] = []
    page.set_viewport_size(viewport)
    try:
        response = page.goto(base + path, wait_until="load")
    except Exception as exc:  # an error status fails the navigation itself
        return [f"{name} {size}: {path}: {exc}"]
    if response is None or response.status >= 400:
        return [f"{name} {size}: {path} answered {response.status if response else 'nothing'}"]
    page.wait_for_load_state("networkidle")
    facts = page.evaluate(MEASURE)
    if size == "phone":
        if facts["scrollWidth"] > facts["viewport"]:
            problems.append(
                f"{name} phone: scrolls sideways ({facts['scrollWidth']} > {facts['viewport']} px; "
                f"wide: {facts['wide']})"
            )
        if facts["header"] > HEADER_LIMIT:
            problems.append(f"{name} phone: header {facts['header']} px tall (menu closed)")
    if facts["weight"] > WEIGHT_LIMIT and name not in HEAVY:
        weight = f"{facts['weight'] / 1024:.0f} KB"
        problems.append(f"{name} {size}: {weight} of HTML, CSS and JS: {facts['files']}")
    page.evaluate(AXE.read_text())
    for violation in page.evaluate(AXE_RUN):
        rule = f"{violation['impact']} {violation['id']}"
        problems.append(f"{name} {size}: axe {rule}: {json.dumps(violation)}")
    shots = SCREENSHOT_DIR / "pages"
    shots.mkdir(parents=True, exist_ok=True)
    save_screenshot(page, shots / f"{name}-{size}.png")
    return problems


# The API reference (ReDoc's bundle, 1 MB of JS) is the one page over the weight budget: a
# reference for developers at a desk, loaded only when asked for; every other page keeps it.
HEAVY = {"api-docs"}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("audience", [PUBLIC, USER, STAFF])
def test_every_page_fits_a_phone_passes_axe_and_stays_light(browser_page, live_server, settings, audience):
    # The webhook trial receiver's page exists where http://localhost endpoints are allowed.
    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = True
    page = browser_page
    base = live_server.url
    world = _world()
    if audience == STAFF:
        world.user.is_staff = True
        world.user.save(update_fields=["is_staff"])
    if audience != PUBLIC:
        _sign_in(page.context, base, world.user)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    problems: list[str] = []
    checked = 0
    for name, (path, who) in PAGES.items():
        if who != audience:
            continue
        for size, viewport in (("desk", DESK), ("phone", PHONE)):
            problems += _check(page, base, name, path(world), size, viewport)
            checked += 1
    assert checked
    assert not problems, "\n".join(problems)
    assert not errors, "\n".join(errors)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_phone_menu_opens_with_every_group_and_closes(browser_page, live_server):
    page = browser_page
    base = live_server.url
    world = _world()
    _sign_in(page.context, base, world.user)
    page.set_viewport_size(PHONE)
    page.goto(base + "/")
    toggle = page.get_by_role("button", name="Menu")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not page.get_by_role("link", name="Lookup", exact=True).is_visible()

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    for link in ("Lookup", "Convert", "Bulk", "Watchlists", "Collections", "Credits", "Billing", "API keys"):
        assert page.get_by_role("link", name=link, exact=True).is_visible(), link
    page.shot("menu-open")
    page.get_by_role("link", name="Convert", exact=True).click()
    page.wait_for_url(f"{base}/convert/")
    assert page.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "false"

    # At a desk the groups are dropdowns on one line.
    page.set_viewport_size(DESK)
    page.goto(base + "/")
    nav = page.locator("#site-nav").bounding_box()
    assert nav is not None
    assert nav["height"] < 50
    page.get_by_text("Products", exact=True).click()
    assert page.get_by_role("link", name="Bulk", exact=True).is_visible()
    page.keyboard.press("Escape")
    assert not page.get_by_role("link", name="Bulk", exact=True).is_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manifest_lines_sorted_by_monthly_sold_on_a_phone(browser_page, live_server):
    """The sales columns (the sandbox's sample figures, marked so) at the end of the lines table:
    sorted by monthly sold through the page's own control, lines without it last; the table
    scrolls inside its box and the page does not scroll sideways."""
    from credits.tests.factories import funded_user
    from resale.manifest_selectors import manifest_lines

    page = browser_page
    base = live_server.url
    user = funded_user(100)
    manifest = _manifest(user)
    _sign_in(page.context, base, user)
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/manifests/{manifest.pk}/")
    page.get_by_label("Sort by").select_option(label="Sold last month, most first")
    page.get_by_role("button", name="Sort").click()
    page.wait_for_url(f"{base}/manifests/{manifest.pk}/?sort=-monthly_sold")

    table = page.locator("#manifest-lines")
    headers = table.locator("thead th").all_inner_texts()
    sold_column = headers.index("Sold last month") + 1
    shown = [
        text.split("\n")[0].strip()
        for text in table.locator(f"tbody tr td:nth-child({sold_column})").all_inner_texts()
    ]
    expected = [
        f"{line.monthly_sold:,}+" if line.monthly_sold is not None else "—"
        for line in manifest_lines(manifest=manifest, sort="-monthly_sold")
    ]
    assert shown == expected
    # The sandbox reports it for some of these products, not all (as Keepa for real ones).
    assert shown[0] != "—"
    assert "—" in shown
    assert shown.index("—") == len([s for s in shown if s != "—"])  # none after the first "—"
    first = table.locator(f"tbody tr:first-child td:nth-child({sold_column})")
    assert "source: Sandbox, sample" in first.inner_text()

    facts = page.evaluate(MEASURE)
    assert facts["scrollWidth"] <= facts["viewport"], facts
    first.scroll_into_view_if_needed()
    assert first.is_visible()
    box = first.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"] + 1  # reached by scrolling the table, not the page
    page.evaluate(AXE.read_text())
    assert page.evaluate(AXE_RUN) == []
    page.shot("manifest-sorted-by-monthly-sold")
