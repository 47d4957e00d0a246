"""Emails in the platform's layout: a plain-text part and an HTML part from one set of templates.

An email named ``<prefix>`` is three templates, the naming django-allauth uses for the account
emails (so both share ``templates/email/base.txt`` and ``base.html``):

- ``<prefix>_subject.txt``: one line (line breaks are folded into spaces);
- ``<prefix>_message.txt``: the text part, extending ``email/base.txt``;
- ``<prefix>_message.html``: the HTML part, extending ``email/base.html`` (inline styles only:
  many mail clients drop ``<style>`` blocks).

Every template gets ``platform_name`` and ``site_home`` (the platform's public address, from
``SITE_URL``); links in an email are absolute through :func:`site_link`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def site_link(path: str) -> str:
    """``path`` ("/bulk/7/") as an absolute link on ``SITE_URL`` ("https://app.example.com/bulk/7/");
    the path alone when ``SITE_URL`` is empty."""
    if not path.startswith("/"):
        raise ValueError(f"site_link takes a path starting with '/', not {path!r}.")
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def email_context(*, site_home: str | None = None) -> dict[str, str]:
    """What every email template reads: the platform's name and its home page, ``SITE_URL``
    unless ``site_home`` is given (an email sent while answering a request links where the
    request came to, as its other links do)."""
    if site_home is None:
        site_home = site_link("/") if settings.SITE_URL else ""
    return {"platform_name": settings.PLATFORM_NAME, "site_home": site_home}


def email_render(
    *, to: str | Sequence[str], template_prefix: str, context: Mapping[str, Any]
) -> EmailMultiAlternatives:
    """The email ``template_prefix`` to ``to``: subject, text body and one "text/html" alternative."""
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients or not all(recipients):
        raise ValueError(f"An email needs at least one recipient address, not {to!r}.")
    full_context = {**email_context(), **context}
    subject = " ".join(render_to_string(f"{template_prefix}_subject.txt", full_context).splitlines()).strip()
    if not subject:
        raise ValueError(f"{template_prefix}_subject.txt rendered an empty subject.")
    text = render_to_string(f"{template_prefix}_message.txt", full_context).strip()
    html = render_to_string(f"{template_prefix}_message.html", full_context).strip()
    message = EmailMultiAlternatives(subject, text + "\n", None, recipients)
    message.attach_alternative(html, "text/html")
    return message


def send_templated(*, to: str | Sequence[str], template_prefix: str, context: Mapping[str, Any]) -> None:
    """Render the email ``template_prefix`` (see the module's docstring) and send it with
    ``DEFAULT_FROM_EMAIL`` as the sender; the backend's errors propagate."""
    email_render(to=to, template_prefix=template_prefix, context=context).send()
