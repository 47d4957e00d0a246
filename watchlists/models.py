"""Watchlists: products a user follows, refreshed on a schedule, with alerts on thresholds.

Invariants kept by the database:

- one refresh record per (item, due slot): a redelivered refresh task finds it
  and does nothing twice (the charge is keyed by the same pair in the ledger);
- one alert per (item, condition, crossing) and per (refresh, condition): a
  condition's state (``ConditionState``) moves in the same transaction as the
  alert it raises, so an alert is raised once per crossing however often a
  refresh is delivered.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Interval(models.TextChoices):
    HOURLY = "hourly", "Every hour"
    EVERY_6_HOURS = "every_6h", "Every 6 hours"
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Every week"


INTERVAL_HOURS: dict[str, int] = {
    Interval.HOURLY: 1,
    Interval.EVERY_6_HOURS: 6,
    Interval.DAILY: 24,
    Interval.WEEKLY: 24 * 7,
}


def interval_delta(interval: str) -> timedelta:
    return timedelta(hours=INTERVAL_HOURS[interval])


class Condition(models.TextChoices):
    PRICE_BELOW = "price_below", "Price below"
    PRICE_ABOVE = "price_above", "Price above"
    BUY_BOX_LOST = "buy_box_lost", "Buy box lost"
    BUY_BOX_WON = "buy_box_won", "Buy box won"
    RANK_BETTER = "rank_better", "Sales rank better than"
    RANK_WORSE = "rank_worse", "Sales rank worse than"
    BACK_IN_STOCK = "back_in_stock", "Back in stock"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"


class Watchlist(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=100)
    interval = models.CharField(max_length=10, choices=Interval.choices, default=Interval.DAILY)
    # The next due slot; the beat's dispatcher moves it forward when it queues a refresh.
    next_refresh_at = models.DateTimeField(default=timezone.now)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "id")
        indexes = [models.Index(fields=["next_refresh_at"], name="watchlist_due")]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="watchlist_unique_name_per_user"),
            models.CheckConstraint(
                condition=Q(interval__in=[c.value for c in Interval]), name="watchlist_interval_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WatchItem(models.Model):
    """One product of a watchlist and its optional thresholds (prices in the marketplace's currency)."""

    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    asin = models.CharField(max_length=10)
    marketplace = models.CharField(max_length=2)
    price_below = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    price_above = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    buy_box_seller_id = models.CharField(
        max_length=32, blank=True, help_text="Your seller id, for the buy box lost / won alerts."
    )
    alert_buy_box_lost = models.BooleanField(default=False)
    alert_buy_box_won = models.BooleanField(default=False)
    rank_better_than = models.PositiveIntegerField(null=True, blank=True)
    rank_worse_than = models.PositiveIntegerField(null=True, blank=True)
    alert_back_in_stock = models.BooleanField(default=False)
    alert_out_of_stock = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("watchlist", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["watchlist", "asin", "marketplace"], name="watchitem_unique_product"
            ),
            models.CheckConstraint(
                condition=(Q(price_below__isnull=True) | Q(price_below__gt=0))
                & (Q(price_above__isnull=True) | Q(price_above__gt=0))
                & (Q(rank_better_than__isnull=True) | Q(rank_better_than__gt=0))
                & (Q(rank_worse_than__isnull=True) | Q(rank_worse_than__gt=0)),
                name="watchitem_thresholds_positive",
            ),
            models.CheckConstraint(
                condition=Q(alert_buy_box_lost=False, alert_buy_box_won=False) | ~Q(buy_box_seller_id=""),
                name="watchitem_buy_box_needs_seller",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asin} ({self.marketplace})"

    def conditions(self) -> list[str]:
        """The conditions this item watches."""
        watched = {
            Condition.PRICE_BELOW: self.price_below is not None,
            Condition.PRICE_ABOVE: self.price_above is not None,
            Condition.BUY_BOX_LOST: self.alert_buy_box_lost,
            Condition.BUY_BOX_WON: self.alert_buy_box_won,
            Condition.RANK_BETTER: self.rank_better_than is not None,
            Condition.RANK_WORSE: self.rank_worse_than is not None,
            Condition.BACK_IN_STOCK: self.alert_back_in_stock,
            Condition.OUT_OF_STOCK: self.alert_out_of_stock,
        }
        return [condition for condition, on in watched.items() if on]

    def condition_labels(self) -> list[str]:
        return [str(Condition(condition).label) for condition in self.conditions()]


class ItemSnapshot(models.Model):
    """One refresh of an item for one due slot: what was seen, or why nothing was."""

    class Status(models.TextChoices):
        OK = "ok", "Refreshed"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    item = models.ForeignKey(WatchItem, on_delete=models.CASCADE, related_name="snapshots")
    slot = models.DateTimeField(help_text="The due time this refresh belongs to.")
    taken_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=8, choices=Status.choices)
    currency = models.CharField(max_length=3, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    buy_box_seller_id = models.CharField(max_length=32, blank=True)
    sales_rank = models.PositiveIntegerField(null=True, blank=True)
    in_stock = models.BooleanField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="When the provider was asked.")
    provider = models.CharField(max_length=16, blank=True, help_text="The product data provider.")
    sample_data = models.BooleanField(
        default=False, help_text="The values are the sandbox provider's made-up sample data, not Amazon's."
    )
    credits = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("item", "-slot")
        indexes = [models.Index(fields=["item", "-slot"], name="itemsnapshot_item_slot")]
        constraints = [
            models.UniqueConstraint(fields=["item", "slot"], name="itemsnapshot_unique_slot"),
            models.CheckConstraint(
                condition=Q(credits=0) | Q(status="ok"), name="itemsnapshot_credits_if_ok"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} at {self.slot:%Y-%m-%d %H:%M} ({self.status})"


class ConditionState(models.Model):
    """Whether a condition of an item is armed: an alert fires when the condition
    becomes true while armed (and disarms it); it re-arms when the condition is false again."""

    item = models.ForeignKey(WatchItem, on_delete=models.CASCADE, related_name="condition_states")
    condition = models.CharField(max_length=16, choices=Condition.choices)
    armed = models.BooleanField()
    crossings = models.PositiveIntegerField(default=0, help_text="Alerts raised so far.")
    last_slot = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "condition"], name="conditionstate_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.condition} ({'armed' if self.armed else 'crossed'})"


class Alert(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts")
    item = models.ForeignKey(
        WatchItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    snapshot = models.ForeignKey(
        ItemSnapshot, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    # Copies, so an alert still reads well after its item is deleted.
    watchlist_name = models.CharField(max_length=100)
    asin = models.CharField(max_length=10)
    marketplace = models.CharField(max_length=2)
    condition = models.CharField(max_length=16, choices=Condition.choices)
    crossing = models.PositiveIntegerField()
    message = models.CharField(max_length=500)
    observed = models.CharField(max_length=64, blank=True)
    threshold = models.CharField(max_length=64, blank=True)
    # Copies of the refresh's: an alert raised on sample data says so wherever it is shown.
    provider = models.CharField(max_length=16, blank=True)
    sample_data = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="alert_user_time")]
        constraints = [
            models.UniqueConstraint(fields=["item", "condition", "crossing"], name="alert_once_per_crossing"),
            models.UniqueConstraint(fields=["snapshot", "condition"], name="alert_once_per_refresh"),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
