"""Endpoint secrets at rest (Fernet), and the signature of a delivery (HMAC-SHA256).

The secrets must be readable to sign deliveries, so they are encrypted rather
than hashed. ``WEBHOOKS_SECRET_KEYS`` lists Fernet keys, newest first:
secrets are encrypted with the first and read with any, so a key is rotated by
putting a new one in front. With none configured a key is derived from
``SECRET_KEY``; changing that key then makes stored secrets unreadable (the
deliveries fail with that reason until the user rotates the secret).
The keys are handled by core/encryption.py, as for sellers' refresh tokens
(conversion/tokens.py), with keys of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import InvalidToken, MultiFernet

from core.encryption import fernet
from webhooks.conf import webhook_settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret


class SecretUnreadable(Exception):
    """The secret was encrypted with a key that is no longer configured."""


def _fernet() -> MultiFernet:
    return fernet(webhook_settings().secret_keys, label="webhooks.endpoint-secret")


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(encrypted: str) -> str:
    try:
        return _fernet().decrypt(encrypted.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "The endpoint's secret cannot be decrypted with the configured keys."
        ) from None


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}.{body}"`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secrets_: list[str], timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<hex>`` with one ``v1`` per valid secret (two during a rotation's grace)."""
    parts = [f"t={timestamp}"]
    parts += [f"v1={signature(secret=s, timestamp=timestamp, body=body)}" for s in secrets_]
    return ",".join(parts)
