"""Page forms of resale: only shaped here; services check the values."""

from __future__ import annotations

from decimal import Decimal

from django import forms


def _amount(label: str) -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=12, decimal_places=2, min_value=Decimal(0))


class DefaultsForm(forms.Form):
    inbound_per_unit = _amount("Inbound shipping per unit")
    inbound_per_kg = _amount("Inbound shipping per kg")
    prep_per_unit = _amount("Prep per unit")
    vat_registered = forms.BooleanField(label="VAT-registered (EU and UK marketplaces)", required=False)
    target_roi_percent = forms.DecimalField(
        label="Target ROI %", required=False, max_digits=7, decimal_places=2, min_value=Decimal(0)
    )


class ProfitForm(forms.Form):
    asin = forms.CharField(max_length=20, widget=forms.HiddenInput)
    marketplace = forms.CharField(max_length=4, widget=forms.HiddenInput)
    cost = forms.DecimalField(
        label="Buy cost per unit", max_digits=12, decimal_places=2, min_value=Decimal(0)
    )
    quantity = forms.IntegerField(label="Units", min_value=1, max_value=1_000_000, initial=1)
