"""Checks every templated email passes (core.email): the tests of each app's emails call them."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives


def html_part(message: EmailMultiAlternatives) -> str:
    """The one "text/html" alternative of ``message`` (and assert it is the only one)."""
    assert isinstance(message, EmailMultiAlternatives), type(message)
    html = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(message.alternatives) == 1, message.alternatives
    assert len(html) == 1, message.alternatives
    return str(html[0])


def assert_platform_email(message: EmailMultiAlternatives, *, link: str) -> str:
    """``message`` has a text body and one HTML part, both naming the platform and holding
    ``link`` (absolute); neither points to the default localhost:8000 unless ``link`` does.
    Returns the HTML part."""
    html = html_part(message)
    assert message.body.strip(), "no text part"
    assert "<html" not in message.body, "the text part is HTML"
    assert html.lstrip().lower().startswith("<!doctype html>"), html[:100]
    for part in (message.body, html):
        assert settings.PLATFORM_NAME in part
        assert link in part
        if "localhost:8000" not in link:
            assert "localhost:8000" not in part
    assert f'href="{link}"' in html
    return html
