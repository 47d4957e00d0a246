"""The ledger on the credits page in plain words (issue #20): a refunded charge is one line,
codes become words, times are in the user's time zone, cached lookups say so."""

import datetime as dt

import pytest
import time_machine
from django.test import Client

from credits import services
from credits.models import LedgerEntry, Operation
from credits.selectors import balance_get
from credits.tests.factories import funded_user, new_key

pytestmark = pytest.mark.django_db

PAGE = "/credits/"


def page(user, **cookies) -> str:
    client = Client()
    client.force_login(user)
    for name, value in cookies.items():
        client.cookies[name] = value
    return client.get(PAGE).content.decode().split('id="transactions"')[1]


def rows(html: str) -> list[str]:
    return html.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]


def test_a_charge_refunded_in_full_is_one_not_charged_line():
    user = funded_user(10)
    services.price_set(operation="label_print", credits=2)
    charge = services.credits_charge(
        user=user, operation="label_print", idempotency_key=new_key(), reference="label 7"
    )
    services.credits_refund(charge=charge, reason="printer_offline")

    html = page(user)

    lines = rows(html)
    assert len(lines) == 2  # the funding entry and the one grouped line
    assert "Label print label 7 — not charged: printer offline" in lines[0]
    assert "Not charged" in lines[0]
    assert "label_print" not in html
    assert "printer_offline" not in html
    assert balance_get(user=user) == 10  # the balance stays exact
    assert LedgerEntry.objects.filter(account__user=user).count() == 3  # the ledger keeps both rows


def test_a_partly_refunded_charge_keeps_both_lines():
    user = funded_user(10)
    charge = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    LedgerEntry.objects.create(
        account=charge.account,
        kind="refund",
        amount=0,
        balance_after=9,
        refund_of=charge,
        idempotency_key=new_key(),
        description="nothing back",
    )

    lines = rows(page(user))

    assert len(lines) == 3
    assert "refunded: nothing back" in lines[0]
    assert "not charged" not in lines[1]


def test_refunds_listed_alone_keep_their_line():
    user = funded_user(10)
    charge = services.credits_charge(
        user=user, operation=Operation.CODE_LOOKUP, idempotency_key=new_key(), reference="US:123 (EAN-13)"
    )
    services.credits_refund(charge=charge, reason="product_not_found")
    client = Client()
    client.force_login(user)

    html = client.get(PAGE, {"kind": "refund"}).content.decode().split('id="transactions"')[1]

    (line,) = rows(html)
    assert "Barcode lookup US:123 (EAN-13) — refunded: no product with this ASIN or barcode" in line


def test_times_are_in_the_browsers_time_zone():
    user = funded_user(10)
    with time_machine.travel(dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC), tick=False):
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())

    assert "7 Dec 2026, 23:30 UTC" in page(user)
    assert "8 Dec 2026, 08:30 JST" in page(user, tz="Asia/Tokyo")
    assert "7 Dec 2026, 18:30 EST" in page(user, tz="America/New_York")
    assert "2026-12-07T23:30" not in page(user).replace('datetime="2026-12-07T23:30', "")


def test_the_day_filter_takes_days_in_the_browsers_time_zone():
    user = funded_user(10)
    with time_machine.travel(dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC), tick=False):
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    client = Client()
    client.force_login(user)

    def charges(day: str, zone: str) -> int:
        client.cookies["tz"] = zone
        html = client.get(PAGE, {"created_after": day, "created_before": day, "kind": "charge"}).content
        return len(rows(html.decode().split('id="transactions"')[1])) if b"<tbody>" in html else 0

    # Shown on 8 Dec in Tokyo, the charge is found by 8 Dec there, and by 7 Dec in UTC.
    assert charges("2026-12-08", "Asia/Tokyo") == 1
    assert charges("2026-12-07", "Asia/Tokyo") == 0
    assert charges("2026-12-07", "UTC") == 1


def test_the_apis_day_filter_stays_in_utc_days():
    user = funded_user(10)
    with time_machine.travel(dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC), tick=False):
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    client = Client()
    client.force_login(user)
    client.cookies["tz"] = "Asia/Tokyo"

    answer = client.get("/api/v1/credits/transactions", {"created_after": "2026-12-07", "kind": "charge"})

    assert answer.status_code == 200
    assert answer.json()["count"] == 1


def test_a_jobs_hold_reads_as_the_job_not_its_stored_reference():
    user = funded_user(10)
    services.credits_hold(
        user=user, amount=4, reference="bulk:12", idempotency_key=new_key(), operation=Operation.BULK_ITEM
    )

    lines = rows(page(user))

    assert "Bulk job item for job #12" in lines[0]  # words jobs registered for its references
    assert "bulk:12" not in lines[0]
