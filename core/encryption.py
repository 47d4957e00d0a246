"""Secrets kept encrypted at rest: Fernet (AES-128-CBC with HMAC-SHA256) with rotating keys.

Each kind of secret has its own list of Fernet keys, newest first: values are
encrypted with the first and read with any, so a key is rotated by putting a
new one in front. With no keys configured, one is derived from ``SECRET_KEY``
and the kind's label (two kinds never share a key); changing ``SECRET_KEY``
then makes what was stored unreadable.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def fernet(keys: Sequence[str], *, label: str) -> MultiFernet:
    if not keys:
        digest = hashlib.sha256(label.encode() + b":" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode()) for key in keys])
