"""django-allauth glue: a signup sends ``user_created`` (credits opens the credit account) in the
same transaction; account emails come in the platform's layout and under its name."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.utils import build_absolute_uri
from django.conf import settings
from django.contrib.sites.requests import RequestSite
from django.db import transaction
from django.http import HttpRequest

from accounts.signals import user_created
from core.email import email_context


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                user_created.send(sender=type(user), user=user)
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """allauth renders ``<prefix>_message.txt`` and, since templates/account/email/ has one for
        each, ``<prefix>_message.html`` as the HTML part. Without django.contrib.sites its "current
        site" is the request's host (which greeted "Hello from 127.0.0.1:8741!"): it is named after
        the platform here, for any allauth template not overridden.

        allauth builds its links (confirm, reset, sign up) from the request's host, which
        ALLOWED_HOSTS vets, and ACCOUNT_DEFAULT_HTTP_PROTOCOL; the footer's home link is built
        the same way so that one email never mixes two addresses."""
        request = allauth_context.request
        site = RequestSite(request)
        site.name = settings.PLATFORM_NAME
        home = build_absolute_uri(request, "/")
        super().send_mail(
            template_prefix, email, {**email_context(site_home=home), "current_site": site, **context}
        )
