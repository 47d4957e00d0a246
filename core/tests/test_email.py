from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core import mail

from core.email import email_context, email_render, send_templated, site_link
from core.tests.emails import assert_platform_email, html_part

EXAMPLE = {
    "example_subject.txt": "{% autoescape off %}Report\n  for {{ name }}{% endautoescape %}\n",
    "example_message.txt": (
        '{% extends "email/base.txt" %}{% block content %}Hi {{ name }}: {{ link }}{% endblock content %}'
    ),
    "example_message.html": (
        '{% extends "email/base.html" %}{% block content %}<p>Hi {{ name }}: '
        '<a href="{{ link }}">open</a></p>{% endblock content %}'
    ),
}


@pytest.fixture
def example_templates(settings):
    """The project's templates plus the three of an email named "example"."""
    engine = {**django_settings.TEMPLATES[0], "APP_DIRS": False}
    engine["OPTIONS"] = {
        **engine["OPTIONS"],
        "loaders": [
            ("django.template.loaders.locmem.Loader", dict(EXAMPLE)),
            "django.template.loaders.filesystem.Loader",
            "django.template.loaders.app_directories.Loader",
        ],
    }
    settings.TEMPLATES = [engine]


def test_an_email_has_a_text_part_and_an_html_part_in_the_platforms_layout(example_templates, settings):
    settings.SITE_URL = "https://platform.example/"
    link = site_link("/bulk/7/")

    send_templated(
        to="ann@example.com", template_prefix="example", context={"name": "Tom & Jerry", "link": link}
    )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.subject == "Report   for Tom & Jerry"  # lines folded, not escaped
    html = assert_platform_email(message, link="https://platform.example/bulk/7/")
    assert "Hi Tom & Jerry: https://platform.example/bulk/7/" in message.body  # text is not HTML-escaped
    assert "Hi Tom &amp; Jerry" in html
    # The footer links the platform's home on SITE_URL, in both parts.
    assert message.body.rstrip().endswith("https://platform.example/")
    assert '<a href="https://platform.example/"' in html
    assert "<style" not in html  # inline styles only: many clients drop style blocks


def test_without_site_url_the_footer_has_no_home_link_and_links_are_paths(example_templates, settings):
    settings.SITE_URL = ""

    message = email_render(
        to=["a@example.com", "b@example.com"],
        template_prefix="example",
        context={"name": "Ann", "link": site_link("/bulk/7/")},
    )

    assert message.to == ["a@example.com", "b@example.com"]
    assert "Hi Ann: /bulk/7/" in message.body
    assert 'href="/"' not in html_part(message)
    assert email_context() == {"platform_name": "Amazon Product Intelligence", "site_home": ""}


def test_a_given_home_page_wins_over_site_url(settings):
    settings.SITE_URL = "https://platform.example"
    assert email_context()["site_home"] == "https://platform.example/"
    assert email_context(site_home="http://127.0.0.1:8741/")["site_home"] == "http://127.0.0.1:8741/"


@pytest.mark.parametrize(
    ("site_url", "path", "expected"),
    [
        ("http://127.0.0.1:8123", "/bulk/7/", "http://127.0.0.1:8123/bulk/7/"),
        (
            "https://platform.example/",
            "/watchlists/notifications/",
            "https://platform.example/watchlists/notifications/",
        ),
        ("", "/billing/", "/billing/"),
    ],
)
def test_site_link_puts_a_path_on_site_url(settings, site_url, path, expected):
    settings.SITE_URL = site_url
    assert site_link(path) == expected


def test_site_link_refuses_what_is_not_a_path():
    with pytest.raises(ValueError, match="path starting with '/'"):
        site_link("https://elsewhere.example/")


@pytest.mark.parametrize("to", [[], "", ["a@example.com", ""]])
def test_an_email_without_a_recipient_is_refused(example_templates, to):
    with pytest.raises(ValueError, match="at least one recipient"):
        send_templated(to=to, template_prefix="example", context={"name": "Ann", "link": "/"})
    assert mail.outbox == []


def test_an_empty_subject_is_refused(example_templates, settings):
    settings.TEMPLATES[0]["OPTIONS"]["loaders"][0][1]["example_subject.txt"] = "  \n"
    with pytest.raises(ValueError, match="empty subject"):
        send_templated(to="a@example.com", template_prefix="example", context={"name": "Ann", "link": "/"})
