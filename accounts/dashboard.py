"""The dashboard (the signed-in home page, accounts.views.home) shows what other apps add to it.

An app above accounts registers a function of the request that returns template context (from
its ``AppConfig.ready()``); accounts imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

DashboardContext = Callable[[HttpRequest], dict[str, Any]]

_providers: list[DashboardContext] = []


def register_dashboard_context(provider: DashboardContext) -> DashboardContext:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for provider in _providers:
        context.update(provider(request))
    return context
