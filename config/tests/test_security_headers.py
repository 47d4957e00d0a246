"""Security headers on every page, and pages that satisfy the Content-Security-Policy.

Every page route (walked from the URL conf, objects created through the
ownership registry) is fetched as a signed-in staff user, and the public ones
anonymously: each HTML answer carries the policy, and its markup has no
inline script, event handler, style attribute or <style> element, which the
policy would refuse. Data blocks (``json_script``: type application/json) are
not executed and are allowed.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from accounts.tests.factories import PASSWORD, UserFactory
from config.tests.test_ownership import BODY, EXEMPT_PREFIXES, OWNED, Route, _walk
from credits.tests.factories import funded_user

DATA_BLOCK_TYPES = {"application/json", "application/ld+json"}
# Pages whose own view relaxes the policy for styles (config/api_docs.py).
INLINE_STYLES_ALLOWED = {"api-docs", "api-redoc"}
# Pages whose own view lets WebAssembly compile: the scanner page's camera reader (conversion/views.py).
WASM_ALLOWED = {"convert"}


class InlineCodeFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>: inline event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=...>: inline style attribute")
        is_data_block = (names.get("type") or "").lower() in DATA_BLOCK_TYPES
        if tag == "script" and "src" not in names and not is_data_block:
            self.problems.append("<script> without src: inline script")
        if tag == "style":
            self.problems.append("<style> element: inline styles")
        for attr in ("href", "action", "formaction", "src"):
            if (names.get(attr) or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {attr}=javascript:...>: inline script")


def inline_code(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def page_routes() -> list[Route]:
    return [
        r
        for r in _walk(get_resolver().url_patterns)
        if not r.route.startswith(("api/v1/", *EXEMPT_PREFIXES)) and r.name
    ]


def assert_policy_headers(response: Any, name: str) -> None:
    policy = response.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("default-src") == ["'self'"], (name, policy)
    if name in WASM_ALLOWED:
        assert directives.get("script-src") == ["'self'", "'wasm-unsafe-eval'"], (name, policy)
    else:
        assert directives.get("script-src") == ["'self'"], (name, policy)
    assert directives.get("frame-ancestors") == ["'none'"], (name, policy)
    assert directives.get("object-src") == ["'none'"], (name, policy)
    if name not in INLINE_STYLES_ALLOWED:
        assert directives.get("style-src") == ["'self'"], (name, policy)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def fetch_pages(client: Client, owner: Any) -> dict[str, Any]:
    pages = {}
    for route in page_routes():
        kwargs: dict[str, Any] = {}
        if route.parameters:
            factory = OWNED.get(route.name)
            if factory is None or owner is None:
                continue  # public token links, and routes the ownership test reports
            kwargs = {k: v for k, v in factory(owner).items() if k != BODY and k in route.parameters}
        response = client.get(reverse(route.name, kwargs=kwargs))
        if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
            pages[route.name] = response
    return pages


@pytest.mark.django_db
def test_every_page_carries_the_policy_and_satisfies_it():
    user = funded_user(credits=100)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)

    pages = fetch_pages(client, user)

    # The walk really saw the platform's pages, including object pages from the registry.
    assert {"home", "product-lookup-page", "bulk-jobs-page", "bulk-job-page", "credits", "api-docs"} <= set(
        pages
    )
    problems = {}
    for name, response in pages.items():
        assert_policy_headers(response, name)
        if name not in INLINE_STYLES_ALLOWED and (found := inline_code(response.content.decode())):
            problems[name] = found
    assert not problems, problems


@pytest.mark.django_db
def test_public_pages_carry_the_policy_and_satisfy_it():
    UserFactory()
    pages = fetch_pages(Client(), None)

    assert {"account_login", "account_signup", "account_reset_password"} <= set(pages)
    for name, response in pages.items():
        assert_policy_headers(response, name)
        if name not in INLINE_STYLES_ALLOWED:
            assert not inline_code(response.content.decode()), name


def test_the_finder_tells_data_blocks_from_scripts():
    html = (
        '<script type="application/json" id="d">{"a": 1}</script><script src="/s.js"></script>'
        '<button onclick="x()">x</button><div style="color:red"></div><script>alert(1)</script>'
        '<a href="javascript:alert(1)">x</a><style>p{}</style>'
    )

    assert inline_code(html) == [
        "<button onclick=...>: inline event handler",
        "<div style=...>: inline style attribute",
        "<script> without src: inline script",
        "<a href=javascript:...>: inline script",
        "<style> element: inline styles",
    ]


def test_the_api_docs_load_their_script_from_a_file_not_inline(client):
    response = client.get(reverse("api-docs"))
    html = response.content.decode()

    assert "<script>" not in html
    assert "script=" in html  # the split view's start-up script is its own request
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
