"""The API docs load nothing from outside the platform: they are served offline too."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from config.api_docs import redoc_bundle_offline


def test_the_redoc_bundle_is_served_by_the_platform_without_the_cdn_logo(client):
    page = client.get(reverse("api-redoc")).content.decode()
    assert 'src="/api/redoc/?bundle="' in page

    bundle = client.get(reverse("api-redoc") + "?bundle=")

    assert bundle.status_code == 200
    assert bundle["Content-Type"].startswith("application/javascript")
    assert b"Redoc" in bundle.content
    assert b"cdn.redoc.ly" not in bundle.content
    assert bundle.content == redoc_bundle_offline()
    assert "cdn.redoc.ly" not in client.get(reverse("api-redoc"))["Content-Security-Policy"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["api-redoc", "api-docs"])
def test_the_api_docs_pages_make_only_same_origin_requests(browser_page, live_server, name):
    page = browser_page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(live_server.url + reverse(name))
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(".api-content, .swagger-ui .info")
    # Redoc draws its side menu (whose footer had the CDN logo) once the schema is read.
    if name == "api-redoc":
        page.wait_for_selector("text=API docs by Redocly")
    page.wait_for_load_state("networkidle")
    page.shot(name)

    origin = urlsplit(live_server.url)[:2]
    outside = [url for url in requests if urlsplit(url)[:2] != origin and urlsplit(url).scheme != "blob"]
    assert requests
    assert outside == []
