"""The built-in trial receiver: try webhooks where no receiver of one's own can be reached.

Only where ``http://localhost`` endpoints are allowed (``DEBUG=1``, as in ``make run``, or
``WEBHOOKS_ALLOW_HTTP_LOCALHOST=1``); elsewhere its pages are 404s. Each user has a receiver
address of their own on the platform, ``/webhooks/trial/<token>``: the token is the user's id
signed with ``SECRET_KEY``, so nobody can post into another user's list. It keeps the last
``KEPT`` deliveries it received (in the cache, for a day) and checks each one's signature as
docs/webhooks.md tells a receiver to: with the secret of the endpoint that sent it (which must
be the user's), any ``v1`` of ``X-Webhook-Signature`` the HMAC-SHA256 of "{t}.{body}", and ``t``
within five minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from django.core import signing
from django.core.cache import cache
from django.utils import timezone

from webhooks import crypto
from webhooks.conf import webhook_settings
from webhooks.models import WebhookDelivery

KEPT = 20
KEEP_SECONDS = 86400
MAX_BODY_BYTES = 64 * 1024
TOLERANCE_SECONDS = 300
_SALT = "webhooks.trial-receiver"


def trial_available() -> bool:
    return webhook_settings().allow_http_localhost


def trial_token(user_id: int) -> str:
    return signing.Signer(salt=_SALT).sign(str(user_id))


def trial_user_id(token: str) -> int | None:
    try:
        return int(signing.Signer(salt=_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def _key(user_id: int) -> str:
    return f"webhooks:trial:{user_id}"


def signature_valid(*, secret: str, body: bytes, header: str, now: float | None = None) -> bool:
    """The receiver's check of docs/webhooks.md."""
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [value for key, value in parts if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamps[0])) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{timestamps[0]}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, value) for key, value in parts if key == "v1")


def _check(user_id: int, headers: dict[str, str], body: bytes) -> str:
    delivery_id = headers.get("X-Webhook-Delivery", "")
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=int(delivery_id), endpoint__user_id=user_id)
        .first()
        if delivery_id.isdigit()
        else None
    )
    if delivery is None:
        return "not sent by one of your endpoints"
    endpoint = delivery.endpoint
    secrets = [endpoint.secret_encrypted]
    if endpoint.previous_secret_encrypted:
        secrets.append(endpoint.previous_secret_encrypted)
    header = headers.get("X-Webhook-Signature", "")
    for encrypted in secrets:
        try:
            secret = crypto.secret_decrypt(encrypted)
        except crypto.SecretUnreadable:
            continue
        if signature_valid(secret=secret, body=body, header=header):
            return "valid"
    return "invalid"


def trial_receive(*, user_id: int, headers: dict[str, str], body: bytes) -> None:
    """Keeps one delivery (its webhook headers, its body) with its signature checked."""
    body = body[:MAX_BODY_BYTES]
    webhook_headers = {k: v for k, v in headers.items() if k.lower().startswith("x-webhook-")}
    entry = {
        "received_at": timezone.now().isoformat(timespec="seconds"),
        "headers": webhook_headers,
        "body": body.decode("utf-8", errors="replace"),
        "signature": _check(user_id, webhook_headers, body),
    }
    kept = [entry, *cache.get(_key(user_id), [])][:KEPT]
    cache.set(_key(user_id), kept, KEEP_SECONDS)


def trial_received(*, user_id: int) -> list[dict[str, Any]]:
    """The deliveries kept for this user, newest first."""
    return list(cache.get(_key(user_id), []))
