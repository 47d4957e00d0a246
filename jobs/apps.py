from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Bulk jobs and collections"

    def ready(self) -> None:
        from jobs import collectors
        from jobs.bulk import (
            asin_lookup,  # noqa: F401 - registers the asin_lookup bulk job kind
            checks,  # noqa: F401 - registers the bulk jobs' checks
        )

        collectors.register()  # bulk items and jobs by status (backlog) on /metrics

        from jobs import home

        home.register()  # the bulk item's price on the landing page

        from credits.wording import reference_words_register

        # The ledger page reads a job's hold and charges ("bulk:12") as "for job #12".
        reference_words_register("bulk", lambda job_id: f"for job #{job_id}")
