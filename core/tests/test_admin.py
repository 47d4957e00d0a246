from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory

from core.admin import NoAddAdminMixin, NoDeleteAdminMixin, ViewOnlyAdminMixin


def _request():
    request = RequestFactory().get("/admin/")
    request.user = type("Superuser", (), {"is_active": True, "is_staff": True, "has_perm": lambda *a: True})()
    return request


def test_view_only_refuses_every_write_but_not_viewing():
    class ViewOnly(ViewOnlyAdminMixin, admin.ModelAdmin):
        pass

    model_admin = ViewOnly(Group, admin.AdminSite())
    request = _request()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_single_mixins_leave_the_other_permissions_to_django():
    class NoAddNoDelete(NoAddAdminMixin, NoDeleteAdminMixin, admin.ModelAdmin):
        pass

    model_admin = NoAddNoDelete(Group, admin.AdminSite())
    request = _request()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_change_permission(request)
