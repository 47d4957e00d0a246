"""The dashboard (the signed-in home page, accounts.views.home) shows what other apps add to it.

An app above accounts registers, from its ``AppConfig.ready()``, a function of the request that
returns template context, and the first-run checklist's steps it owns (``register_checklist_step``);
another app may add a way of completing a step it does not own (``register_checklist_done``: a
conversion counts as a first lookup). Accounts imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from accounts.models import User

DashboardContext = Callable[[HttpRequest], dict[str, Any]]
StepDone = Callable[[User], bool]

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


# --- The first-run checklist ----------------------------------------------------------------


@dataclass
class ChecklistStep:
    """A step of the first-run checklist. ``url_name`` is reversed and ``text`` (words, or a
    function giving them, when they name a setting) read when the page is drawn; the step is
    done when any of its checks says so for the user."""

    key: str
    title: str
    text: str | Callable[[], str]
    url_name: str
    order: int
    checks: list[StepDone] = field(default_factory=list)


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    title: str
    text: str
    url: str
    done: bool


@dataclass(frozen=True)
class Checklist:
    items: list[ChecklistItem]

    @property
    def done_count(self) -> int:
        return sum(item.done for item in self.items)

    @property
    def complete(self) -> bool:
        return all(item.done for item in self.items)


_steps: dict[str, ChecklistStep] = {}
_extra_checks: dict[str, list[StepDone]] = {}


def register_checklist_step(
    *, key: str, title: str, text: str | Callable[[], str], url_name: str, order: int, done: StepDone
) -> None:
    """The step ``key`` (owned by the caller), done for a user when ``done(user)`` is true."""
    _steps[key] = ChecklistStep(
        key=key, title=title, text=text, url_name=url_name, order=order, checks=[done]
    )


def register_checklist_done(*, key: str, done: StepDone) -> None:
    """Another way to complete the step ``key`` (registered by an app that does not own it)."""
    checks = _extra_checks.setdefault(key, [])
    if done not in checks:
        checks.append(done)


def _url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def checklist_for(user: User) -> Checklist:
    """The registered steps in order, each with whether ``user`` has done it (any check says yes)."""
    items = []
    for step in sorted(_steps.values(), key=lambda s: (s.order, s.key)):
        checks = [*step.checks, *_extra_checks.get(step.key, [])]
        done = any(check(user) for check in checks)
        text = step.text() if callable(step.text) else step.text
        items.append(
            ChecklistItem(key=step.key, title=step.title, text=text, url=_url(step.url_name), done=done)
        )
    return Checklist(items=items)
