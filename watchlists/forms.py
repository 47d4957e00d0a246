"""Page forms. They shape input only; services check the values (the same checks as the API and CSV)."""

from __future__ import annotations

from django import forms

from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES
from watchlists.models import Interval


class WatchlistForm(forms.Form):
    name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. Kitchen deals"})
    )
    interval = forms.ChoiceField(choices=Interval.choices, initial=Interval.DAILY, label="Refresh")


class ThresholdsForm(forms.Form):
    price_below = forms.DecimalField(required=False, min_value=0, decimal_places=2, label="Price below")
    price_above = forms.DecimalField(required=False, min_value=0, decimal_places=2, label="Price above")
    buy_box_seller_id = forms.CharField(required=False, max_length=32, label="Your seller id")
    alert_buy_box_lost = forms.BooleanField(required=False, label="Buy box lost")
    alert_buy_box_won = forms.BooleanField(required=False, label="Buy box won")
    rank_better_than = forms.IntegerField(required=False, min_value=1, label="Rank better than")
    rank_worse_than = forms.IntegerField(required=False, min_value=1, label="Rank worse than")
    alert_back_in_stock = forms.BooleanField(required=False, label="Back in stock")
    alert_out_of_stock = forms.BooleanField(required=False, label="Out of stock")


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
