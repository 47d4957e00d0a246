from typing import Any

from django.core.management.base import BaseCommand, CommandError

from credits import selectors


class Command(BaseCommand):
    help = (
        "Check every credit account: its balance equals the sum of its ledger entries and is "
        "not negative. Lists the accounts that differ and exits non-zero if there are any."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        discrepancies = selectors.accounts_out_of_balance()
        if not discrepancies:
            self.stdout.write(self.style.SUCCESS("All credit accounts reconcile with their ledger."))
            return
        self.stdout.write("account\temail\tbalance\tledger_sum\tdifference")
        for d in discrepancies:
            self.stdout.write(f"{d.account_id}\t{d.email}\t{d.balance}\t{d.ledger_sum}\t{d.difference:+d}")
        raise CommandError(f"{len(discrepancies)} credit account(s) do not reconcile with their ledger.")
