"""The webhooks pages: thin views over webhooks/services.py and selectors.py."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.types import AuthedHttpRequest
from core.errors import DomainError, NotFoundError
from webhooks import selectors, services, trial
from webhooks.forms import WebhookEndpointEditForm, WebhookEndpointForm, WebhookRotateForm
from webhooks.models import WebhookEndpoint

RECENT_DELIVERIES = 50


def _not_found_as_404(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Someone else's endpoint or delivery, or a deleted one, is a plain 404 page."""

    @functools.wraps(view)
    def wrapper(request: AuthedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFoundError as exc:
            raise Http404(exc.message) from None

    return wrapper


def _no_store(response: HttpResponse) -> HttpResponse:
    # A secret is rendered in this response only (never through a redirect, a
    # cookie or the session), so it is shown exactly once.
    response["Cache-Control"] = "no-store"
    return response


def _form_error(form: WebhookEndpointForm, exc: DomainError) -> None:
    field = "url" if exc.code == "webhook_url_refused" else None
    form.add_error(field, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def webhooks_page(request: AuthedHttpRequest) -> HttpResponse:
    created = None
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.webhook_endpoint_create(user=request.user, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            created = {"endpoint": endpoint, "secret": secret}
            form = WebhookEndpointForm()
    context = {
        "form": form,
        "created": created,
        "endpoints": selectors.webhook_endpoint_list(user=request.user),
        "deliveries": selectors.webhook_delivery_list(user=request.user)[:RECENT_DELIVERIES],
        "events": services.EVENTS,
        "http_localhost_allowed": trial.trial_available(),
    }
    return _no_store(render(request, "webhooks/webhooks.html", context))


def _endpoint_page(
    request: AuthedHttpRequest,
    endpoint: WebhookEndpoint,
    *,
    form: WebhookEndpointEditForm | None = None,
    secret: str = "",
) -> HttpResponse:
    initial = {
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "is_active": endpoint.is_active,
    }
    context = {
        "endpoint": endpoint,
        "form": form or WebhookEndpointEditForm(initial=initial),
        "rotate_form": WebhookRotateForm(),
        "secret": secret,
        "deliveries": selectors.webhook_delivery_list(user=request.user, endpoint_id=endpoint.pk)[
            :RECENT_DELIVERIES
        ],
    }
    return _no_store(render(request, "webhooks/endpoint.html", context))


@login_required
@require_http_methods(["GET", "POST"])
@_not_found_as_404
def webhook_endpoint_page(request: AuthedHttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = selectors.webhook_endpoint_get(user=request.user, endpoint_id=endpoint_id)
    if request.method != "POST":
        return _endpoint_page(request, endpoint)
    form = WebhookEndpointEditForm(request.POST)
    if form.is_valid():
        try:
            services.webhook_endpoint_update(user=request.user, endpoint_id=endpoint.pk, **form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("webhook-endpoint", endpoint.pk)
    return _endpoint_page(request, endpoint, form=form)


@login_required
@require_POST
@_not_found_as_404
def webhook_endpoint_rotate(request: AuthedHttpRequest, endpoint_id: int) -> HttpResponse:
    form = WebhookRotateForm(request.POST)
    expire_old_now = form.is_valid() and form.cleaned_data["expire_old_now"]
    endpoint, secret = services.webhook_endpoint_rotate_secret(
        user=request.user, endpoint_id=endpoint_id, expire_old_now=expire_old_now
    )
    return _endpoint_page(request, endpoint, secret=secret)


@login_required
@require_POST
@_not_found_as_404
def webhook_endpoint_ping(request: AuthedHttpRequest, endpoint_id: int) -> HttpResponse:
    services.webhook_endpoint_ping(user=request.user, endpoint_id=endpoint_id)
    messages.success(request, "Test ping queued: its delivery appears below in a moment.")
    return redirect("webhook-endpoint", endpoint_id)


@login_required
@require_POST
@_not_found_as_404
def webhook_endpoint_delete(request: AuthedHttpRequest, endpoint_id: int) -> HttpResponse:
    services.webhook_endpoint_delete(user=request.user, endpoint_id=endpoint_id)
    messages.success(request, "Endpoint deleted.")
    return redirect("webhooks")


@login_required
@require_GET
@_not_found_as_404
def webhook_delivery_page(request: AuthedHttpRequest, delivery_id: int) -> HttpResponse:
    delivery = selectors.webhook_delivery_get(user=request.user, delivery_id=delivery_id)
    context: dict[str, Any] = {"delivery": delivery, "payload": json.dumps(delivery.payload, indent=2)}
    return render(request, "webhooks/delivery.html", context)


@login_required
@require_POST
@_not_found_as_404
def webhook_delivery_replay(request: AuthedHttpRequest, delivery_id: int) -> HttpResponse:
    try:
        delivery = services.webhook_delivery_replay(user=request.user, delivery_id=delivery_id)
    except NotFoundError:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("webhook-delivery", delivery_id)
    messages.success(request, f"Replay queued as delivery {delivery.pk} (same event id).")
    return redirect("webhook-endpoint", delivery.endpoint_id)


# --- The built-in trial receiver (webhooks/trial.py): only where http://localhost is allowed ---


@login_required
@require_GET
def webhook_trial_page(request: AuthedHttpRequest) -> HttpResponse:
    if not trial.trial_available():
        raise Http404("The trial receiver is only available in development.")
    url = request.build_absolute_uri(
        reverse("webhook-trial-receive", args=[trial.trial_token(request.user.pk)])
    )
    context = {"receiver_url": url, "received": trial.trial_received(user_id=request.user.pk)}
    return _no_store(render(request, "webhooks/trial.html", context))


@csrf_exempt  # posted by the platform's delivery worker, authenticated by the signed token
@require_POST
def webhook_trial_receive(request: HttpRequest, token: str) -> HttpResponse:
    user_id = trial.trial_user_id(token)
    if not trial.trial_available() or user_id is None:
        raise Http404("No such receiver.")
    trial.trial_receive(user_id=user_id, headers=dict(request.headers), body=request.body)
    return JsonResponse({"ok": True})
