"""Page forms. They shape input only; services check the values (the same checks as the API and CSV)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from core.money import currency_exponent
from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES
from watchlists.models import Interval


class WatchlistForm(forms.Form):
    name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. Kitchen deals"})
    )
    interval = forms.ChoiceField(choices=Interval.choices, initial=Interval.DAILY, label="Refresh")


def _price_field(label: str, help_text: str) -> forms.DecimalField:
    # min and step are set per currency by ThresholdsForm; services check the same (above 0,
    # at most the currency's minor units), so the browser's hints never accept less.
    return forms.DecimalField(
        required=False,
        min_value=0,
        decimal_places=2,
        label=label,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )


def _rank_field(label: str, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        min_value=1,
        label=label,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "1", "min": "1", "inputmode": "numeric"}),
    )


class ThresholdsForm(forms.Form):
    """An item's alert conditions. ``currency`` (the marketplace's, when it is known) sets the price
    inputs' step and minimum to its minor unit (0.01 for USD, 1 for JPY)."""

    price_below = _price_field("Price below", "Alert when the price drops under this amount.")
    price_above = _price_field("Price above", "Alert when the price rises over this amount.")
    rank_better_than = _rank_field("Sales rank better than", "Alert when the rank climbs above this number.")
    rank_worse_than = _rank_field("Sales rank worse than", "Alert when the rank falls below this number.")
    buy_box_seller_id = forms.CharField(
        required=False,
        max_length=32,
        label="Your seller id",
        help_text="Your Amazon merchant token (such as A2EXAMPLE1234), for the buy box alerts.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    alert_buy_box_lost = forms.BooleanField(required=False, label="Buy box lost")
    alert_buy_box_won = forms.BooleanField(required=False, label="Buy box won")
    alert_back_in_stock = forms.BooleanField(required=False, label="Back in stock")
    alert_out_of_stock = forms.BooleanField(required=False, label="Out of stock")

    def __init__(self, *args: Any, currency: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = (currency or "").upper()
        step = format(Decimal(1).scaleb(-currency_exponent(self.currency)), "f") if self.currency else "0.01"
        unit = f"In {self.currency}" if self.currency else "In the marketplace's currency"
        for name in ("price_below", "price_above"):
            field = self.fields[name]
            field.widget.attrs.update(step=step, min=step)
            field.help_text = f"{field.help_text} {unit}."


class WatchItemForm(ThresholdsForm):
    asin = forms.CharField(
        max_length=64, label="ASIN", widget=forms.TextInput(attrs={"placeholder": "B08N5WRWNW"})
    )
    marketplace = forms.ChoiceField(
        choices=[(code, f"{code} · {m.name}") for code, m in MARKETPLACES.items()],
        initial=DEFAULT_MARKETPLACE,
    )

    field_order = ["asin", "marketplace"]


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
