import pytest
from django.db import IntegrityError

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_create_user_with_email_and_no_username():
    user = User.objects.create_user(email="Seller@Example.COM", password="pw-123456789")

    assert user.email == "seller@example.com"
    assert user.check_password("pw-123456789")
    assert not user.is_staff
    assert not hasattr(user, "username")


def test_create_superuser():
    user = User.objects.create_superuser(email="ops@example.com", password="pw-123456789")

    assert user.is_staff
    assert user.is_superuser


def test_email_is_unique():
    User.objects.create_user(email="a@example.com", password="x")

    with pytest.raises(IntegrityError):
        User.objects.create_user(email="a@example.com", password="y")


def test_email_is_required():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user(email="", password="x")
