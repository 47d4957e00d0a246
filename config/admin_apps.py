from django.contrib.admin.apps import AdminConfig


class PlatformAdminConfig(AdminConfig):
    """django.contrib.admin with config.admin.PlatformAdminSite as ``admin.site``."""

    default_site = "config.admin.PlatformAdminSite"
