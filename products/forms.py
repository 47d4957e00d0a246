from django import forms

from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES


class ProductLookupForm(forms.Form):
    asin = forms.CharField(
        max_length=64,
        label="ASIN",
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. B08N5WRWNW", "autofocus": True, "autocomplete": "off"}
        ),
    )
    marketplace = forms.ChoiceField(
        choices=[(code, f"{code} · {m.name}") for code, m in MARKETPLACES.items()],
        initial=DEFAULT_MARKETPLACE,
    )
