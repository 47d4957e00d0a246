"""Domain errors of the billing app, in the platform's one error shape (core/errors.py)."""

from __future__ import annotations

from core.errors import DomainError, ProcessingFailedError, UnavailableError, UpstreamError


class CheckoutUnavailable(UnavailableError):
    code = "checkout_unavailable"
    default_message = "Buying credits is not available right now: payments are not configured."


class PaymentProviderError(UpstreamError):
    code = "payment_provider_error"
    default_message = "The payment provider could not start the checkout. Please try again in a moment."


class InvalidWebhook(DomainError):
    """A delivery that is not a genuine, recent Stripe event: refused, nothing stored."""

    code = "invalid_webhook"
    default_message = "Invalid webhook."


class WebhookNotConfigured(UnavailableError):
    # Unavailable (503) rather than invalid (4xx): Stripe keeps retrying for days, so events sent while
    # the secret is missing are delivered once it is set.
    code = "webhook_not_configured"
    default_message = "The webhook endpoint has no signing secret configured."


class WebhookProcessingFailed(ProcessingFailedError):
    # Not 2xx (500), so Stripe delivers the event again later; the event row keeps
    # the error.
    code = "webhook_processing_failed"
    default_message = "The event was stored but could not be processed; it will be retried."


class EventNotReady(Exception):
    """The event refers to something this platform does not know yet (events
    arrive in any order): processing fails and Stripe's redelivery or an
    operator's re-process finishes it later."""
