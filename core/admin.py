"""Admin mixins: records the admin shows but people do not write.

Put a mixin before ``admin.ModelAdmin`` (or an inline) in the bases. Ledger entries, payments,
logs and Stripe events are written by services only; the admin shows them. Django then hides the
"add" button, the save buttons and the delete action, and refuses such requests with 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class NoAddAdminMixin:
    """Rows come from the platform (a service, a task, an upstream), never from the admin's form."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoChangeAdminMixin:
    """Rows are shown read-only: a record of what happened."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoDeleteAdminMixin:
    """Rows are kept: other records (the ledger, an audit) point at them."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ViewOnlyAdminMixin(NoAddAdminMixin, NoChangeAdminMixin, NoDeleteAdminMixin):
    """Seen in the admin, never added, changed or deleted there."""
