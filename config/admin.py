"""The operators' admin site: Django's, with today's figures on its index page (computed by
the app that registers them, analytics/admin.py: config imports no domain app).

Its login is rate-limited like the site's (/accounts/login/): attempts count in
allauth's "login" bucket per IP, and passwords are checked through allauth's
adapter, so wrong ones count in the same "login_failed" buckets (per IP and per
account, in the shared Redis cache). Failures on either page lock both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.core import ratelimit
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


class AdminLoginForm(AdminAuthenticationForm):
    """Django's admin login form, authenticating through allauth's adapter.

    The adapter's ``authenticate`` consumes the "login_failed" rate limit first
    (over it, it raises the "Too many failed login attempts" validation error),
    and rolls that consumption back when the password is right, exactly as for
    allauth's own login form; the admin's staff check follows as before.
    """

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            self.user_cache = get_adapter(self.request).authenticate(
                self.request, email=email, password=password
            )
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class PlatformAdminSite(admin.AdminSite):
    site_header = "Product Intelligence: back office"
    site_title = "Product Intelligence admin"
    index_title = "Back office"
    login_form = AdminLoginForm

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._today_figures: Callable[[], object] | None = None

    def register_today_figures(self, figures: Callable[[], object]) -> None:
        """What the index shows as today's figures (``today`` in templates/admin/index.html)."""
        self._today_figures = figures

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The site's per-IP budget of login attempts ("login" in ACCOUNT_RATE_LIMITS), 429 over it.
        refused = ratelimit.consume_or_429(request, action="login")
        if refused is not None:
            return refused
        return super().login(request, extra_context)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        extra_context = dict(extra_context or {})
        # Revenue and error counts are for the operators who may see payments, not every staff account.
        if self._today_figures is not None and request.user.has_perm("billing.view_payment"):
            extra_context["today"] = self._today_figures()
        return super().index(request, extra_context)
