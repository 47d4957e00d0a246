from django import forms

from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES


class ProductLookupForm(forms.Form):
    # An ASIN, or a barcode (8, 12 or 13 digits: EAN, UPC, ISBN-13), told apart by shape.
    asin = forms.CharField(
        max_length=64,
        label="ASIN or barcode",
        widget=forms.TextInput(
            attrs={
                "placeholder": "e.g. B08N5WRWNW or 4006381333931",
                "autofocus": True,
                "autocomplete": "off",
            }
        ),
    )
    marketplace = forms.ChoiceField(
        choices=[(code, f"{code} · {m.name}") for code, m in MARKETPLACES.items()],
        initial=DEFAULT_MARKETPLACE,
    )
