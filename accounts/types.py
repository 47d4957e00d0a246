"""Request types for views that only run for a signed-in user (of accounts' User)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.request import Request

if TYPE_CHECKING:
    from accounts.models import User

    class AuthedHttpRequest(HttpRequest):
        user: User

    class AuthedRequest(Request):
        user: User

else:
    AuthedHttpRequest = HttpRequest
    AuthedRequest = Request
