"""Users and API keys in the admin.

A user's page also shows what other apps keep about them (their payments, bulk jobs, credit
balance): each of those apps adds its part from its own admin.py with ``user_page_inline`` and
``user_page_field``, so accounts imports none of them (docs/architecture.md, "Layers and import
rules").
"""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from accounts.forms import UserChangeForm, UserCreationForm
from accounts.models import ApiKey, User
from core.admin import NoAddAdminMixin, ViewOnlyAdminMixin

# A user's page shows their latest rows of each kind; the full lists are a link away.
INLINE_ROWS = 20


class _LatestRowsFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[Any]:
        rows: QuerySet[Any] = super().get_queryset()
        latest = list(rows.order_by("-created_at", "-pk").values_list("pk", flat=True)[:INLINE_ROWS])
        return rows.filter(pk__in=latest)


class UserPageInline(ViewOnlyAdminMixin, admin.TabularInline[Any, User]):
    """Rows of another model shown on the user's page; they change through their own services."""

    formset = _LatestRowsFormSet
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ("-created_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields


class ApiKeyInline(UserPageInline):
    model = ApiKey
    fields = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    verbose_name_plural = f"API keys (latest {INLINE_ROWS})"


# Added by other apps (``user_page_inline``, ``user_page_field``), in the order of their
# ``position``: (position, inline) and (section, position, display function).
_user_page_inlines: list[tuple[int, type[UserPageInline]]] = [(0, ApiKeyInline)]
_user_page_fields: list[tuple[str, int, Callable[[User], Any]]] = []


def user_page_inline(inline: type[UserPageInline], *, position: int) -> type[UserPageInline]:
    """Show ``inline`` (rows of another app's model, the latest first) on a user's page."""
    _user_page_inlines.append((position, inline))
    _user_page_inlines.sort(key=lambda entry: entry[0])
    return inline


def user_page_field(display: Callable[[User], Any], *, section: str, position: int) -> Callable[[User], Any]:
    """Show ``display(user)`` (an ``@admin.display`` function) read-only on a user's page, in its
    own ``section`` placed after the profile, by ``position``."""
    _user_page_fields.append((section, position, display))
    _user_page_fields.sort(key=lambda entry: entry[1])
    return display


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "full_name", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    readonly_fields = ("date_joined", "last_login")
    date_hierarchy = "date_joined"
    inlines = (ApiKeyInline,)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),
    )

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [inline for _, inline in _user_page_inlines]

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*super().get_readonly_fields(request, obj), *(display for _, _, display in _user_page_fields))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:  # the add page
            return fieldsets
        sections: dict[str, list[Any]] = {}
        for section, _, display in _user_page_fields:
            sections.setdefault(section, []).append(display)
        after_profile = 2
        return [
            *fieldsets[:after_profile],
            *((title, {"fields": tuple(fields)}) for title, fields in sections.items()),
            *fieldsets[after_profile:],
        ]


# Not added here: a key must be shown to its owner once at creation, which happens on
# their page, the API or `manage.py createapikey`.
@admin.register(ApiKey)
class ApiKeyAdmin(NoAddAdminMixin, admin.ModelAdmin[ApiKey]):
    list_display = ("name", "prefix", "user", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__email")
    date_hierarchy = "created_at"
    # Scopes are fixed when the key is created (cached copies of a key's state rely on it).
    readonly_fields = ("user", "prefix", "key_hash", "scopes", "created_at", "last_used_at")
    list_select_related = ("user",)
