from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"
    verbose_name = "Credits"

    def ready(self) -> None:
        from accounts.dashboard import register_dashboard_context
        from accounts.signals import user_created
        from credits import collectors, receivers

        collectors.register()  # the ledger reconciliation gauges on /metrics
        # A new user's credit account, opened in the transaction that creates them.
        user_created.connect(receivers.open_credit_account, dispatch_uid="credits-open-account")
        register_dashboard_context(receivers.dashboard_credit_account)

        from credits import home

        home.register()  # the signup bonus on the landing page, the checklist's credits step
