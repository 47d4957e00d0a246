import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User
from accounts.tests.factories import UserFactory
from credits import services
from credits.models import CreditAccount, LedgerEntry, Operation
from credits.tests.factories import CreditAccountFactory, funded_user, new_key

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- grantcredits ---------------------------------------------------------------------------


def test_grantcredits_grants_through_the_ledger():
    user = funded_user(5)

    output = run("grantcredits", user.email.upper(), "100", "--reason", "Support ticket 42")

    assert CreditAccount.objects.get(user=user).balance == 105
    entry = LedgerEntry.objects.filter(account__user=user).latest("id")
    assert (entry.kind, entry.amount, entry.description) == (Kind.GRANT, 100, "Support ticket 42")
    assert "balance 105" in output


def test_grantcredits_opens_a_missing_account():
    user = UserFactory()

    run("grantcredits", user.email, "10", "--reason", "Trial")

    assert CreditAccount.objects.get(user=user).balance == 10


def test_grantcredits_with_a_key_grants_once():
    user = funded_user(0)

    run("grantcredits", user.email, "10", "--reason", "Promo", "--idempotency-key", "promo-2025")
    run("grantcredits", user.email, "10", "--reason", "Promo", "--idempotency-key", "promo-2025")

    assert CreditAccount.objects.get(user=user).balance == 10


def test_grantcredits_as_a_purchase():
    user = funded_user(0)

    run("grantcredits", user.email, "500", "--reason", "Invoice 7", "--kind", "purchase")

    assert LedgerEntry.objects.get(account__user=user).kind == Kind.PURCHASE


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody@example.com", "10", "--reason", "x"), "No user"),
        (("{email}", "0", "--reason", "x"), "positive"),
        (("{email}", "-5", "--reason", "x"), "positive"),
        (("{email}", "5", "--reason", "  "), "reason"),
        (("{email}", "5"), "--reason"),
    ],
)
def test_grantcredits_refuses_bad_input(args, message):
    user = funded_user(3)

    with pytest.raises(CommandError, match=message):
        run("grantcredits", *(a.format(email=user.email) for a in args))

    assert CreditAccount.objects.get(user=user).balance == 3


# --- reconcile_credits ------------------------------------------------------------------------


def test_reconcile_passes_when_every_account_matches_its_ledger():
    user = funded_user(10)
    charge = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    services.credits_refund(charge=charge)
    CreditAccountFactory()  # an empty account

    output = run("reconcile_credits")

    assert "All credit accounts reconcile" in output


def test_reconcile_lists_accounts_that_differ_and_fails():
    good = CreditAccountFactory(credits=10)
    bad = CreditAccountFactory(credits=10)
    # Someone moved a balance without the ledger: exactly what reconcile is for.
    CreditAccount.objects.filter(pk=bad.pk).update(balance=13)
    out = StringIO()

    with pytest.raises(CommandError, match="1 credit account"):
        call_command("reconcile_credits", stdout=out)

    listing = out.getvalue()
    assert f"{bad.pk}\t{bad.user.email}\t13\t10\t+3" in listing
    assert good.user.email not in listing


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reconcile_exit_code_on_the_command_line():
    bad = CreditAccountFactory(credits=10)
    CreditAccount.objects.filter(pk=bad.pk).update(balance=13)
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    url = f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"

    def reconcile() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", "reconcile_credits"],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    failing = reconcile()
    CreditAccount.objects.filter(pk=bad.pk).update(balance=10)
    passing = reconcile()

    assert failing.returncode != 0
    assert bad.user.email in failing.stdout
    assert "do not reconcile" in failing.stderr
    assert passing.returncode == 0, passing.stderr


# --- demo ---------------------------------------------------------------------------------------


def test_demo_tops_the_demo_user_up(settings):
    settings.SIGNUP_FREE_CREDITS = 50

    first = run("demo", "--email", "demo@example.com", "--credits", "300")
    user = User.objects.get(email="demo@example.com")
    assert CreditAccount.objects.get(user=user).balance == 300
    assert "Credits:   300" in first

    services.credits_charge(user=user, operation=Operation.BULK_ITEM, idempotency_key=new_key(), quantity=100)
    again = run("demo", "--email", "demo@example.com", "--credits", "300")

    assert CreditAccount.objects.get(user=user).balance == 300
    assert "Credits:   300" in again
    grants = LedgerEntry.objects.filter(account__user=user, kind=Kind.GRANT).values_list("amount", flat=True)
    assert sorted(grants) == [50, 100, 250]


def test_demo_never_takes_credits_away():
    run("demo", "--email", "demo@example.com", "--credits", "300")
    user = User.objects.get(email="demo@example.com")

    output = run("demo", "--email", "demo@example.com", "--credits", "100")

    assert CreditAccount.objects.get(user=user).balance == 300
    assert "Credits:   300" in output
