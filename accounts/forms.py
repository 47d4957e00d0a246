from typing import Any

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest

from accounts.models import ApiKeyScope, User


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        initial="",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Inventory script"}),
    )
    can_manage_keys = forms.BooleanField(
        required=False,
        label="Can manage API keys",
        help_text="Lets the key list, create and revoke keys through the API (the keys:manage scope). "
        "Leave it off unless the key's job is rotating keys: a leaked key without it can neither "
        "create keys nor revoke yours.",
    )

    def scopes(self) -> list[str]:
        return [ApiKeyScope.KEYS_MANAGE.value] if self.cleaned_data.get("can_manage_keys") else []


class SignupForm(AllauthSignupForm):
    """allauth's signup form, as costly for an address that has an account as for a new one."""

    def try_save(self, request: HttpRequest) -> tuple[Any, Any]:
        # On a taken address allauth creates nothing and emails the owner instead, so the
        # password is never hashed and the answer came about ten times faster than a real
        # signup's: the time told which addresses have accounts. Hashing the submitted
        # password here with the configured hasher (as set_password does on the other path)
        # makes both paths cost the same; both send one email, synchronously.
        if self.account_already_exists:
            make_password(self.cleaned_data.get("password1"))
        return super().try_save(request)


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email",)


class UserChangeForm(BaseUserChangeForm):
    class Meta(BaseUserChangeForm.Meta):
        model = User
        fields = "__all__"
