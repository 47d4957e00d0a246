"""Stripe as the tests meet it: events and objects in Stripe's documented
formats, signatures made with Stripe's real scheme, and a local HTTP stand-in
for Stripe's API (the ``stripe`` library talks to it through STRIPE_API_BASE).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

WEBHOOK_SECRET = "whsec_test_5Xq2l0billingSigningSecret"
SECRET_KEY = "sk_test_51Billing0StandIn0Key"
API_VERSION = "2026-10-28.endive"
WEBHOOK_PATH = "/api/v1/payments/webhook"
SESSION_MIN_LIFETIME = 30 * 60
SESSION_MAX_LIFETIME = 24 * 60 * 60


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


# --- Signing -----------------------------------------------------------------------------


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


def post_event(client: Any, event: dict[str, Any], **sign_kwargs: Any) -> Any:
    """Deliver ``event`` to the webhook as Stripe does: JSON body, signed."""
    payload = body_of(event)
    return client.post(
        WEBHOOK_PATH,
        data=payload,
        content_type="application/json; charset=utf-8",
        headers={"Stripe-Signature": sign(payload, **sign_kwargs)},
    )


# --- Objects in Stripe's formats ----------------------------------------------------------


def event(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> dict:
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_session(
    *,
    session_id: str,
    user_id: int,
    pack_id: int,
    payment_ref: str = "",
    amount_total: int = 900,
    currency: str = "usd",
    payment_status: str = "paid",
    status: str = "complete",
    payment_intent: str | None = None,
) -> dict[str, Any]:
    now = int(time.time())
    metadata = {"user_id": str(user_id), "pack_id": str(pack_id)}
    if payment_ref:
        metadata["payment_ref"] = payment_ref
    return {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": "http://testserver/billing/cancel/",
        "client_reference_id": str(user_id),
        "created": now - 60,
        "currency": currency,
        "customer": None,
        "customer_creation": "if_required",
        "customer_details": {"email": "buyer@example.com", "name": "A Buyer", "tax_exempt": "none"},
        "customer_email": "buyer@example.com",
        "expires_at": now + 86_340,
        "invoice": None,
        "livemode": False,
        "locale": None,
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": payment_intent if payment_intent is not None else new_id("pi"),
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "status": status,
        "success_url": "http://testserver/billing/success/?session_id={CHECKOUT_SESSION_ID}",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": None,
    }


def charge(
    *,
    payment_intent: str,
    amount: int = 900,
    amount_refunded: int = 0,
    charge_id: str | None = None,
    currency: str = "usd",
    metadata: dict[str, str] | None = None,
    receipt_url: str | None = None,
) -> dict[str, Any]:
    return {
        "id": charge_id or new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "balance_transaction": new_id("txn"),
        "captured": True,
        "created": int(time.time()) - 3600,
        "currency": currency,
        "customer": None,
        "disputed": False,
        "livemode": False,
        "metadata": metadata or {},
        "paid": True,
        "payment_intent": payment_intent,
        "payment_method": new_id("pm"),
        "receipt_url": receipt_url,
        "refunded": amount_refunded >= amount,
        "status": "succeeded",
    }


def dispute(
    *,
    payment_intent: str,
    charge_id: str,
    amount: int = 900,
    status: str = "needs_response",
    dispute_id: str | None = None,
    currency: str = "usd",
) -> dict[str, Any]:
    return {
        "id": dispute_id or new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge_id,
        "created": int(time.time()),
        "currency": currency,
        "evidence_details": {"due_by": int(time.time()) + 7 * 86_400, "has_evidence": False},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": status,
    }


# --- A local stand-in for Stripe's API -------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class StripeStandIn:
    """Answers ``POST /v1/checkout/sessions`` as Stripe does and records each
    request. ``fail_with`` makes the next answers a Stripe error instead."""

    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    sessions_by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_with: tuple[int, dict[str, Any]] | None = None

    def session_for(self, form: dict[str, list[str]]) -> dict[str, Any]:
        one = {key: values[0] for key, values in form.items()}
        session_id = f"cs_test_{uuid.uuid4().hex}"
        metadata = {k[len("metadata[") : -1]: v for k, v in one.items() if k.startswith("metadata[")}
        now = int(time.time())
        return {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": int(one["line_items[0][price_data][unit_amount]"]),
            "amount_total": int(one["line_items[0][price_data][unit_amount]"]),
            "cancel_url": one["cancel_url"],
            "client_reference_id": one.get("client_reference_id"),
            "created": now,
            "currency": one["line_items[0][price_data][currency]"],
            "customer": None,
            "customer_email": one.get("customer_email"),
            "expires_at": int(one["expires_at"]) if "expires_at" in one else now + 86_400,
            "livemode": False,
            "metadata": metadata,
            "mode": one["mode"],
            "payment_intent": None,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "status": "open",
            "success_url": one["success_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
        }


def start_stand_in() -> tuple[StripeStandIn, ThreadingHTTPServer]:
    stand_in = StripeStandIn()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            stand_in.requests.append(
                RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, form)
            )
            if self.path != "/v1/checkout/sessions":
                return self._answer(
                    404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}
                )
            if stand_in.fail_with is not None:
                return self._answer(*stand_in.fail_with)
            expires_at = form.get("expires_at", [""])[0]
            if (
                expires_at
                and not SESSION_MIN_LIFETIME <= int(expires_at) - time.time() <= SESSION_MAX_LIFETIME
            ):
                # Stripe's rule for expires_at: 30 minutes to 24 hours after the session's creation.
                message = "The `expires_at` timestamp must be between 30 minutes and 24 hours from now."
                return self._answer(400, {"error": {"type": "invalid_request_error", "message": message}})
            key = self.headers.get("Idempotency-Key") or ""
            if key and key in stand_in.sessions_by_key:
                return self._answer(200, stand_in.sessions_by_key[key])
            session = stand_in.session_for(form)
            if key:
                stand_in.sessions_by_key[key] = session
            return self._answer(200, session)

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", new_id("req"))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return stand_in, server
