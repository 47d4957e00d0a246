import datetime as dt

import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, Sum

from accounts.services import user_create
from accounts.tests.factories import UserFactory
from core.api_errors import http_status
from core.errors import ConflictError, DomainError
from credits import selectors, services
from credits.errors import IdempotencyKeyReused, InsufficientCredits, UnknownOperation
from credits.models import DEFAULT_PRICES, CreditAccount, CreditHold, LedgerEntry, Operation, Price
from credits.tests.factories import CreditAccountFactory, funded_user, new_key

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind


@pytest.fixture(params=["single_statement", "orm"])
def posting_path(request, settings):
    """Every posting test runs on both ways of moving a balance (on SQLite both are the ORM's)."""
    settings.CREDITS_SINGLE_STATEMENT = request.param == "single_statement"
    return request.param


def balance_of(user) -> int:
    return CreditAccount.objects.get(user=user).balance


def assert_reconciles(user) -> None:
    account = CreditAccount.objects.get(user=user)
    ledger_sum = LedgerEntry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
    assert account.balance == ledger_sum
    assert account.balance >= 0


# --- Accounts ------------------------------------------------------------------------


def test_user_create_opens_an_account_with_the_signup_bonus(settings):
    settings.SIGNUP_FREE_CREDITS = 25

    user = user_create(email="new@example.com", password="pw-123456789")

    account = CreditAccount.objects.get(user=user)
    assert account.balance == 25
    assert account.low_balance_threshold == settings.CREDITS_LOW_BALANCE_THRESHOLD
    bonus = LedgerEntry.objects.get(account=account)
    assert (bonus.kind, bonus.amount, bonus.balance_after) == (Kind.GRANT, 25, 25)
    assert bonus.idempotency_key == services.SIGNUP_BONUS_KEY


def test_opening_twice_grants_the_bonus_once(settings):
    settings.SIGNUP_FREE_CREDITS = 25
    user = UserFactory()

    first = services.credits_account_open(user=user)
    second = services.credits_account_open(user=user)

    assert first.pk == second.pk
    assert balance_of(user) == 25
    assert LedgerEntry.objects.filter(account=first).count() == 1


def test_no_bonus_when_set_to_zero():
    user = user_create(email="zero@example.com", password="pw-123456789")

    assert balance_of(user) == 0
    assert not LedgerEntry.objects.exists()


def test_a_user_without_an_account_gets_one_on_first_charge(settings, posting_path):
    settings.SIGNUP_FREE_CREDITS = 10
    user = UserFactory()  # created without the service, like `createsuperuser`
    assert not CreditAccount.objects.filter(user=user).exists()

    entry = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())

    assert entry.balance_after == 9
    assert balance_of(user) == 9
    assert_reconciles(user)


def test_a_user_without_an_account_and_no_bonus_is_refused_with_zero_balance(posting_path):
    user = UserFactory()

    with pytest.raises(InsufficientCredits) as excinfo:
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())

    assert excinfo.value.extra == {"balance": 0, "price": 1, "operation": Operation.ASIN_LOOKUP}
    assert balance_of(user) == 0


# --- Charges ----------------------------------------------------------------------------


def test_charge_takes_the_price_and_writes_one_entry(posting_path):
    user = funded_user(10)
    key = new_key()

    entry = services.credits_charge(
        user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=key, reference="X001ABC"
    )

    price = DEFAULT_PRICES[Operation.FNSKU_CONVERSION][0]
    assert balance_of(user) == 10 - price
    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert stored.kind == Kind.CHARGE
    assert stored.amount == -price
    assert stored.balance_after == 10 - price
    assert stored.operation == Operation.FNSKU_CONVERSION
    assert stored.reference == "X001ABC"
    assert stored.idempotency_key == key
    assert entry.balance_after == stored.balance_after
    assert entry.created_at == stored.created_at
    assert_reconciles(user)


def test_charge_multiplies_the_price_by_quantity(posting_path):
    user = funded_user(10)

    entry = services.credits_charge(
        user=user, operation=Operation.BULK_ITEM, idempotency_key=new_key(), quantity=4
    )

    assert entry.amount == -4
    assert balance_of(user) == 6


def test_charge_down_to_exactly_zero(posting_path):
    user = funded_user(2)

    services.credits_charge(user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=new_key())

    assert balance_of(user) == 0


def test_short_balance_raises_and_charges_nothing(posting_path):
    user = funded_user(1)
    entries_before = LedgerEntry.objects.count()

    with pytest.raises(InsufficientCredits) as excinfo:
        services.credits_charge(user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=new_key())

    error = excinfo.value
    assert http_status(error) == 402
    assert error.code == "insufficient_credits"
    assert error.extra == {"balance": 1, "price": 2, "operation": Operation.FNSKU_CONVERSION}
    assert balance_of(user) == 1
    assert LedgerEntry.objects.count() == entries_before


def test_same_key_returns_the_first_charge_and_changes_nothing(posting_path):
    user = funded_user(5)
    key = new_key()

    first = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=key)
    again = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=key)

    assert again.pk == first.pk
    assert again.balance_after == first.balance_after == 4
    assert balance_of(user) == 4
    assert LedgerEntry.objects.filter(kind=Kind.CHARGE).count() == 1


def test_a_replay_succeeds_even_when_the_balance_is_now_short(posting_path):
    user = funded_user(1)
    key = new_key()
    first = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=key)
    assert balance_of(user) == 0

    again = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=key)

    assert again.pk == first.pk
    assert balance_of(user) == 0


def test_a_key_is_per_account(posting_path):
    alice, bob = funded_user(3), funded_user(3)

    services.credits_charge(user=alice, operation=Operation.ASIN_LOOKUP, idempotency_key="same")
    services.credits_charge(user=bob, operation=Operation.ASIN_LOOKUP, idempotency_key="same")

    assert balance_of(alice) == balance_of(bob) == 2


def test_reusing_a_key_for_another_operation_is_refused(posting_path):
    user = funded_user(5)
    key = new_key()
    services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=key)

    with pytest.raises(IdempotencyKeyReused):
        services.credits_charge(user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=key)

    assert balance_of(user) == 4


def test_charge_inside_an_outer_transaction_replays_without_breaking_it(posting_path):
    user = funded_user(5)
    key = new_key()

    with transaction.atomic():
        first = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=key)
        again = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=key)
        # The transaction is still usable after the duplicate key was handled.
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())

    assert again.pk == first.pk
    assert balance_of(user) == 3
    assert_reconciles(user)


def test_a_failed_outer_transaction_takes_the_charge_with_it(posting_path):
    user = funded_user(5)

    def charge_then_fail() -> None:
        with transaction.atomic():
            services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
            raise RuntimeError("the operation failed")

    with pytest.raises(RuntimeError):
        charge_then_fail()

    assert balance_of(user) == 5
    assert not LedgerEntry.objects.filter(kind=Kind.CHARGE).exists()


def test_unknown_operation_is_refused():
    user = funded_user(5)

    with pytest.raises(UnknownOperation):
        services.credits_charge(user=user, operation="teleport", idempotency_key=new_key())

    assert balance_of(user) == 5


def test_quantity_must_be_positive():
    user = funded_user(5)

    with pytest.raises(DomainError):
        services.credits_charge(
            user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key(), quantity=0
        )


def test_empty_idempotency_key_is_refused():
    user = funded_user(5)

    with pytest.raises(DomainError) as excinfo:
        services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key="")

    assert excinfo.value.code == "idempotency_key_required"


# --- Refunds --------------------------------------------------------------------------------


def test_refund_gives_the_charge_back_once(posting_path):
    user = funded_user(5)
    charge = services.credits_charge(
        user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=new_key()
    )

    refund = services.credits_refund(charge=charge, reason="Nothing delivered")
    again = services.credits_refund(charge=charge, reason="Nothing delivered")

    assert again.pk == refund.pk
    assert balance_of(user) == 5
    stored = LedgerEntry.objects.get(pk=refund.pk)
    assert stored.kind == Kind.REFUND
    assert stored.amount == 2
    assert stored.refund_of_id == charge.pk
    assert stored.operation == Operation.FNSKU_CONVERSION
    assert stored.description == "Nothing delivered"
    assert LedgerEntry.objects.filter(kind=Kind.REFUND).count() == 1
    assert_reconciles(user)


def test_only_a_charge_can_be_refunded():
    user = funded_user(5)
    grant = LedgerEntry.objects.get(account__user=user)

    with pytest.raises(DomainError) as excinfo:
        services.credits_refund(charge=grant)

    assert excinfo.value.code == "not_refundable"
    assert balance_of(user) == 5


def test_the_database_refuses_a_second_refund_of_a_charge():
    user = funded_user(5)
    charge = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    services.credits_refund(charge=charge)

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=charge.account,
            kind=Kind.REFUND,
            amount=1,
            balance_after=6,
            idempotency_key="another-key",
            refund_of=charge,
        )


# --- Grants, adjustments, reversals -------------------------------------------------------


def test_grant_adds_credits_and_is_idempotent(posting_path):
    user = funded_user(0)
    key = new_key()

    first = services.credits_grant(user=user, amount=100, reason="Welcome pack", idempotency_key=key)
    again = services.credits_grant(user=user, amount=100, reason="Welcome pack", idempotency_key=key)

    assert again.pk == first.pk
    assert balance_of(user) == 100
    assert first.kind == Kind.GRANT
    assert first.description == "Welcome pack"


def test_purchase_is_a_grant_of_its_own_kind():
    user = funded_user(0)

    entry = services.credits_grant(
        user=user, amount=500, kind=Kind.PURCHASE, reference="cs_test_1", idempotency_key="stripe:cs_test_1"
    )

    assert entry.kind == Kind.PURCHASE
    assert balance_of(user) == 500


def test_same_grant_key_with_another_amount_is_refused():
    user = funded_user(0)
    services.credits_grant(user=user, amount=100, idempotency_key="pack-1")

    with pytest.raises(IdempotencyKeyReused):
        services.credits_grant(user=user, amount=200, idempotency_key="pack-1")

    assert balance_of(user) == 100


@pytest.mark.parametrize("amount", [0, -5])
def test_grant_must_be_positive(amount):
    user = funded_user(0)

    with pytest.raises(DomainError):
        services.credits_grant(user=user, amount=amount)

    assert balance_of(user) == 0


def test_grant_refuses_other_kinds():
    user = funded_user(0)

    with pytest.raises(DomainError):
        services.credits_grant(user=user, amount=5, kind=Kind.REFUND)


def test_adjustment_records_the_reason_and_the_actor(posting_path):
    user = funded_user(10)
    admin = UserFactory(is_staff=True)

    up = services.credits_adjust(user=user, amount=5, reason="Goodwill", actor=admin)
    down = services.credits_adjust(user=user, amount=-12, reason="Duplicate grant", actor=admin)

    assert balance_of(user) == 3
    assert (up.amount, up.description, up.actor_id) == (5, "Goodwill", admin.pk)
    assert (down.amount, down.balance_after) == (-12, 3)
    assert_reconciles(user)


def test_adjustment_cannot_take_more_than_the_balance(posting_path):
    user = funded_user(3)

    with pytest.raises(InsufficientCredits):
        services.credits_adjust(user=user, amount=-4, reason="Too much", actor=None)

    assert balance_of(user) == 3


@pytest.mark.parametrize(("amount", "reason"), [(0, "Nothing"), (5, ""), (5, "   ")])
def test_adjustment_needs_an_amount_and_a_reason(amount, reason):
    user = funded_user(3)

    with pytest.raises(DomainError):
        services.credits_adjust(user=user, amount=amount, reason=reason, actor=None)

    assert balance_of(user) == 3


def test_reversal_takes_back_what_is_left_and_never_goes_negative(posting_path):
    user = funded_user(0)
    services.credits_grant(user=user, amount=100, kind=Kind.PURCHASE, idempotency_key="cs_1")
    services.credits_charge(user=user, operation=Operation.BULK_ITEM, idempotency_key=new_key(), quantity=70)

    entry = services.credits_reverse(
        user=user, amount=100, reason="Stripe refund", idempotency_key="refund:re_1"
    )
    again = services.credits_reverse(
        user=user, amount=100, reason="Stripe refund", idempotency_key="refund:re_1"
    )

    assert again.pk == entry.pk
    assert entry.kind == Kind.REVERSAL
    assert entry.amount == -30
    assert "asked 100, taken 30" in entry.description
    assert balance_of(user) == 0
    assert_reconciles(user)


def test_reversal_of_a_full_balance():
    user = funded_user(40)

    entry = services.credits_reverse(user=user, amount=25, reason="Dispute", idempotency_key="dispute:dp_1")

    assert entry.amount == -25
    assert entry.description == "Dispute"
    assert balance_of(user) == 15


# --- Holds ----------------------------------------------------------------------------------------


def test_hold_and_settle(posting_path):
    user = funded_user(100)

    hold = services.credits_hold(
        user=user, amount=60, reference="job:7", idempotency_key="job-7-hold", operation=Operation.BULK_ITEM
    )
    assert balance_of(user) == 40
    assert (hold.amount, hold.status, hold.remaining) == (60, CreditHold.Status.OPEN, 60)
    assert selectors.held_total(account=hold.account) == 60

    settled = services.credits_settle_hold(hold=hold, used=35)

    assert settled.status == CreditHold.Status.SETTLED
    assert (settled.used, settled.released) == (35, 25)
    assert settled.settled_at is not None
    assert balance_of(user) == 100 - 35
    assert selectors.held_total(account=hold.account) == 0
    kinds = list(LedgerEntry.objects.filter(hold=hold).order_by("id").values_list("kind", "amount"))
    assert kinds == [(Kind.HOLD, -60), (Kind.RELEASE, 25)]
    assert_reconciles(user)


def test_hold_is_idempotent(posting_path):
    user = funded_user(100)

    first = services.credits_hold(user=user, amount=30, reference="job:1", idempotency_key="job-1")
    again = services.credits_hold(user=user, amount=30, reference="job:1", idempotency_key="job-1")

    assert again.pk == first.pk
    assert balance_of(user) == 70
    assert CreditHold.objects.count() == 1


def test_same_hold_key_with_another_amount_is_refused():
    user = funded_user(100)
    services.credits_hold(user=user, amount=30, reference="job:1", idempotency_key="job-1")

    with pytest.raises(IdempotencyKeyReused):
        services.credits_hold(user=user, amount=40, reference="job:1", idempotency_key="job-1")

    assert balance_of(user) == 70


def test_hold_larger_than_the_balance_is_refused_and_leaves_nothing(posting_path):
    user = funded_user(10)

    with pytest.raises(InsufficientCredits) as excinfo:
        services.credits_hold(user=user, amount=11, reference="job:2", idempotency_key="job-2")

    assert excinfo.value.extra["price"] == 11
    assert balance_of(user) == 10
    assert not CreditHold.objects.exists()


def test_settle_is_idempotent_and_final():
    user = funded_user(50)
    hold = services.credits_hold(user=user, amount=20, reference="job:4", idempotency_key="job-4")

    services.credits_settle_hold(hold=hold, used=12)
    again = services.credits_settle_hold(hold=hold, used=12)

    assert again.status == CreditHold.Status.SETTLED
    assert balance_of(user) == 38
    with pytest.raises(ConflictError):
        services.credits_settle_hold(hold=hold, used=13)
    assert balance_of(user) == 38


def test_settle_with_everything_used_releases_nothing():
    user = funded_user(50)
    hold = services.credits_hold(user=user, amount=20, reference="job:5", idempotency_key="job-5")

    settled = services.credits_settle_hold(hold=hold, used=20)

    assert (settled.used, settled.released) == (20, 0)
    assert balance_of(user) == 30
    assert LedgerEntry.objects.filter(hold=hold, kind=Kind.RELEASE).count() == 0


def test_settle_cannot_use_more_than_is_held():
    user = funded_user(50)
    hold = services.credits_hold(user=user, amount=20, reference="job:6", idempotency_key="job-6")

    with pytest.raises(DomainError):
        services.credits_settle_hold(hold=hold, used=21)

    hold.refresh_from_db()
    assert hold.status == CreditHold.Status.OPEN
    assert balance_of(user) == 30


# --- Prices -------------------------------------------------------------------------------------------


def test_defaults_come_from_the_data_migration():
    stored = dict(Price.objects.values_list("operation", "credits"))

    for operation, (credits, _) in DEFAULT_PRICES.items():
        assert stored[operation] == credits


def test_price_set_applies_at_once_in_this_process(posting_path, django_capture_on_commit_callbacks):
    user = funded_user(20)
    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.price_set(operation=Operation.ASIN_LOOKUP, credits=3)
    entry = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())

    assert entry.amount == -3
    assert balance_of(user) == 17


def test_prices_are_cached_and_reloaded_when_the_version_changes(
    settings, django_capture_on_commit_callbacks
):
    settings.CREDITS_PRICE_REFRESH_SECONDS = 3600
    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 1

    # A change written by another process: this process keeps its prices...
    Price.objects.filter(operation=Operation.ASIN_LOOKUP).update(credits=7)
    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 1

    # ...until the refresh interval passes and the shared version has moved.
    settings.CREDITS_PRICE_REFRESH_SECONDS = 0
    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.price_set(operation=Operation.BULK_ITEM, credits=2)
    assert cache.get(selectors.PRICE_VERSION_CACHE_KEY) == 1
    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 7


def test_a_missing_price_row_falls_back_to_the_default():
    Price.objects.filter(operation=Operation.FNSKU_CONVERSION).delete()

    assert (
        selectors.price_get(operation=Operation.FNSKU_CONVERSION)
        == DEFAULT_PRICES[Operation.FNSKU_CONVERSION][0]
    )


def test_a_price_change_that_rolls_back_never_reaches_the_cache():
    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 1

    def change_then_fail() -> None:
        with transaction.atomic():
            services.price_set(operation=Operation.ASIN_LOOKUP, credits=9)
            # Not committed yet: a charge now still pays the committed price.
            assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 1
            raise RuntimeError("the admin's save failed")

    with pytest.raises(RuntimeError):
        change_then_fail()

    assert selectors.price_get(operation=Operation.ASIN_LOOKUP) == 1
    assert Price.objects.get(operation=Operation.ASIN_LOOKUP).credits == 1


def test_new_operation_priced_through_the_service(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.price_set(operation="keepa_history", credits=5, description="Price history")

    assert selectors.price_get(operation="keepa_history") == 5
    assert "keepa_history" in [p.operation for p in selectors.price_list()]


def test_negative_price_is_refused():
    with pytest.raises(DomainError):
        services.price_set(operation=Operation.ASIN_LOOKUP, credits=-1)


# --- Threshold ----------------------------------------------------------------------------------------


def test_threshold_set_and_low_flag():
    user = funded_user(5)

    account = services.credits_threshold_set(user=user, threshold=10)

    assert account.is_low
    assert CreditAccount.objects.get(user=user).low_balance_threshold == 10
    assert not services.credits_threshold_set(user=user, threshold=None).is_low
    with pytest.raises(DomainError):
        services.credits_threshold_set(user=user, threshold=-1)


# --- Usage ----------------------------------------------------------------------------------------------


def test_usage_per_day_and_operation(monkeypatch):
    user = funded_user(100)
    other = funded_user(100)
    today = dt.date(2025, 3, 10)

    def at(day: dt.date):
        moment = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        monkeypatch.setattr(services.timezone, "now", lambda: moment)

    at(today - dt.timedelta(days=40))  # outside the period
    services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    at(today - dt.timedelta(days=2))
    services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    services.credits_charge(user=user, operation=Operation.FNSKU_CONVERSION, idempotency_key=new_key())
    refunded = services.credits_charge(user=user, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    services.credits_refund(charge=refunded)
    services.credits_charge(user=other, operation=Operation.ASIN_LOOKUP, idempotency_key=new_key())
    at(today)
    hold = services.credits_hold(
        user=user, amount=10, reference="job:1", idempotency_key="job-1", operation=Operation.BULK_ITEM
    )
    services.credits_settle_hold(hold=hold, used=4)
    services.credits_grant(user=user, amount=50)  # not spending

    usage = selectors.usage_summary(user=user, days=7, today=today)

    assert (usage.start, usage.end, usage.days) == (today - dt.timedelta(days=6), today, 7)
    assert len(usage.daily) == 7
    by_day = {day.date: day for day in usage.daily}
    assert by_day[today - dt.timedelta(days=2)].by_operation == {
        Operation.ASIN_LOOKUP: 1,
        Operation.FNSKU_CONVERSION: 2,
    }
    assert by_day[today - dt.timedelta(days=2)].total == 3
    assert by_day[today].by_operation == {Operation.BULK_ITEM: 4}
    assert by_day[today - dt.timedelta(days=1)].total == 0
    assert usage.by_operation == {
        Operation.ASIN_LOOKUP: 1,
        Operation.BULK_ITEM: 4,
        Operation.FNSKU_CONVERSION: 2,
    }
    assert usage.total == 7


# --- Database guarantees -------------------------------------------------------------------------------


def test_database_refuses_a_negative_balance():
    user = funded_user(5)

    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(user=user).update(balance=-1)


def test_database_refuses_a_duplicate_key():
    account = CreditAccountFactory(credits=5)
    services.credits_charge(user=account.user, operation=Operation.ASIN_LOOKUP, idempotency_key="dup")

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=account, kind=Kind.GRANT, amount=1, balance_after=5, idempotency_key="dup"
        )


def test_database_refuses_a_wrong_sign_for_the_kind():
    account = CreditAccountFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=account, kind=Kind.CHARGE, amount=5, balance_after=5, idempotency_key="bad-sign"
        )


def test_ledger_entries_cannot_be_updated():
    user = funded_user(5)
    entry = LedgerEntry.objects.get(account__user=user)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=500)
    entry.description = "rewritten"
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        entry.save()

    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert (stored.amount, stored.description) == (5, "Test funds")


@pytest.mark.postgres
def test_ledger_entries_cannot_be_deleted_on_postgres():
    user = funded_user(5)
    entry = LedgerEntry.objects.get(account__user=user)

    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM credits_ledgerentry WHERE id = %s", [entry.pk])

    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_an_account_with_a_ledger_cannot_be_deleted():
    user = funded_user(5)
    account = CreditAccount.objects.get(user=user)

    with pytest.raises(ProtectedError), transaction.atomic():
        account.delete()

    assert LedgerEntry.objects.filter(account=account).exists()
