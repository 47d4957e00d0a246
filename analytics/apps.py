from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """The analytics pages (a user's usage, the operators' figures) and today's figures on the
    admin index. No models: it reads the other apps through their selectors."""

    name = "analytics"
    label = "analytics"
    verbose_name = "Analytics"
