"""Billing pages: packs and payment history, the sandbox checkout, success and cancel, receipts."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.types import AuthedHttpRequest
from billing import checkout, selectors
from billing.api import checkout_urls
from billing.conf import stripe_config
from billing.models import Payment
from core.errors import DomainError, NotFoundError
from credits.services import credits_account_open

PAYMENTS_PER_PAGE = 20
# Seconds between reloads of the success page while the payment is confirmed.
SUCCESS_REFRESH_SECONDS = 3


@login_required
@require_GET
def billing_page(request: AuthedHttpRequest) -> HttpResponse:
    config = stripe_config()
    payments = Paginator(selectors.payment_list(user=request.user), PAYMENTS_PER_PAGE)
    packs = list(selectors.pack_list_active())
    context = {
        "packs": packs,
        "best_value_ids": selectors.pack_best_value_ids(packs=packs),
        "account": credits_account_open(user=request.user),
        "page_obj": payments.get_page(request.GET.get("page")),
        "sandbox": config.sandbox,
        "checkout_available": config.checkout_available,
    }
    return render(request, "billing/billing.html", context)


@login_required
@require_POST
def billing_buy(request: AuthedHttpRequest, pack_id: int) -> HttpResponse:
    try:
        start = checkout.pack_checkout_start(user=request.user, pack_id=pack_id, **checkout_urls(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing")
    return redirect(start.url)


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: AuthedHttpRequest, session_id: str) -> HttpResponse:
    payment = _own_sandbox_payment(request, session_id)
    if request.method == "POST":
        try:
            payment = checkout.sandbox_checkout_complete(user=request.user, checkout_session_id=session_id)
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("billing-sandbox", session_id=session_id)
        return redirect(f"{_success_path()}?session_id={payment.checkout_session_id}")
    if payment.status != Payment.Status.PENDING and payment.credits_granted:
        return redirect(f"{_success_path()}?session_id={payment.checkout_session_id}")
    return render(request, "billing/sandbox_checkout.html", {"payment": payment})


@login_required
@require_POST
def sandbox_checkout_cancel(request: AuthedHttpRequest, session_id: str) -> HttpResponse:
    _own_sandbox_payment(request, session_id)
    checkout.sandbox_checkout_cancel(user=request.user, checkout_session_id=session_id)
    return redirect("billing-cancel")


@login_required
@require_GET
def billing_success(request: AuthedHttpRequest) -> HttpResponse:
    session_id = request.GET.get("session_id", "")
    try:
        payment = selectors.payment_get(user=request.user, checkout_session_id=session_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    waiting = payment.status == Payment.Status.PENDING
    context = {
        "payment": payment,
        "waiting": waiting,
        "refresh_seconds": SUCCESS_REFRESH_SECONDS,
        "account": credits_account_open(user=request.user),
    }
    response = render(request, "billing/success.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def billing_cancel(request: AuthedHttpRequest) -> HttpResponse:
    return render(request, "billing/cancel.html")


@login_required
@require_GET
def billing_receipt(request: AuthedHttpRequest, reference: uuid.UUID) -> HttpResponse:
    """The receipt of one of the user's paid payments (someone else's is not found)."""
    try:
        payment = selectors.payment_receipt_get(user=request.user, reference=reference)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    context = {"payment": payment, "refunds": selectors.payment_refunds(payment=payment)}
    response = render(request, "billing/receipt.html", context)
    # Refunds change it; a shared browser's back button should not show it from the cache.
    response["Cache-Control"] = "private, no-store"
    return response


def _own_sandbox_payment(request: AuthedHttpRequest, session_id: str) -> Payment:
    try:
        payment = selectors.payment_get(user=request.user, checkout_session_id=session_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    if not payment.is_sandbox:
        raise Http404("No such sandbox checkout.")
    return payment


def _success_path() -> str:
    return reverse("billing-success")
