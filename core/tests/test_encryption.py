"""core/encryption.py: the Fernet keys of each kind of stored secret."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet, InvalidToken

from core.encryption import fernet


def test_a_value_encrypted_with_the_derived_key_stays_readable(settings):
    # The derivation must never change: it would make every stored secret unreadable.
    settings.SECRET_KEY = "s3cret"
    digest = hashlib.sha256(b"webhooks.endpoint-secret:s3cret").digest()
    stored = Fernet(base64.urlsafe_b64encode(digest)).encrypt(b"whsec_abc")

    assert fernet([], label="webhooks.endpoint-secret").decrypt(stored) == b"whsec_abc"


def test_each_label_derives_its_own_key(settings):
    settings.SECRET_KEY = "s3cret"
    token = fernet([], label="conversion.spapi-refresh-token").encrypt(b"Atzr|x")

    with pytest.raises(InvalidToken):
        fernet([], label="webhooks.endpoint-secret").decrypt(token)


def test_a_new_key_in_front_encrypts_and_the_old_one_still_reads():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = fernet([old], label="any").encrypt(b"value")

    rotated = fernet([new, old], label="any")

    assert rotated.decrypt(stored) == b"value"
    assert Fernet(new.encode()).decrypt(rotated.encrypt(b"value")) == b"value"
    with pytest.raises(InvalidToken):
        fernet([new], label="any").decrypt(stored)


def test_changing_the_secret_key_makes_derived_values_unreadable(settings):
    settings.SECRET_KEY = "first"
    stored = fernet([], label="any").encrypt(b"value")
    settings.SECRET_KEY = "second"

    with pytest.raises(InvalidToken):
        fernet([], label="any").decrypt(stored)
