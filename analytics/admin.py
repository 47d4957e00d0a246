"""Today's figures on the admin index (config.admin.PlatformAdminSite shows what is registered)."""

from django.contrib import admin

from analytics.selectors import today_figures
from config.admin import PlatformAdminSite

if isinstance(admin.site, PlatformAdminSite):
    admin.site.register_today_figures(today_figures)
