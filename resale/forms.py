"""Page forms of resale: only shaped here; services check the values."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES


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


class ManifestUploadForm(forms.Form):
    # Empty files are let through: the manifest's own checks explain every problem the same way.
    file = forms.FileField(
        label="Manifest (CSV or XLSX)",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".csv,.txt,.tsv,.xlsx,text/csv,"
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )
    lot_price = forms.CharField(
        label="Lot price",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "1250.00"}),
    )
    marketplace = forms.ChoiceField(
        choices=[(code, f"{code} · {m.name}") for code, m in MARKETPLACES.items()],
        initial=DEFAULT_MARKETPLACE,
    )
