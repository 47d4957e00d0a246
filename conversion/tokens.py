"""Encryption of sellers' SP-API refresh tokens at rest (Fernet: AES-128-CBC with HMAC-SHA256).

``CONVERSION_TOKEN_KEYS`` lists Fernet keys, newest first: tokens are
encrypted with the first and read with any, so a key can be rotated by putting
a new one in front (``manage.py`` shell: re-save connections to re-encrypt).
With no keys configured, one is derived from ``SECRET_KEY``
(core/encryption.py): changing that key then makes stored tokens unreadable,
and their sellers are asked to reconnect.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken, MultiFernet

from conversion import conf
from core.encryption import fernet


class TokenUnreadable(Exception):
    """The token was encrypted with a key that is no longer configured."""


def _fernet() -> MultiFernet:
    return fernet(conf.token_keys(), label="conversion.spapi-refresh-token")


def token_encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def token_decrypt(encrypted: str) -> str:
    try:
        return _fernet().decrypt(encrypted.encode()).decode()
    except InvalidToken:
        raise TokenUnreadable("The stored token cannot be decrypted with the configured keys.") from None
