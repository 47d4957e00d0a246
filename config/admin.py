"""The operators' admin site: Django's, with today's figures on its index page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from config.analytics import today_figures


class PlatformAdminSite(admin.AdminSite):
    site_header = "Product Intelligence: back office"
    site_title = "Product Intelligence admin"
    index_title = "Back office"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        extra_context = dict(extra_context or {})
        # Revenue and error counts are for the operators who may see payments, not every staff account.
        if request.user.has_perm("billing.view_payment"):
            extra_context["today"] = today_figures()
        return super().index(request, extra_context)
