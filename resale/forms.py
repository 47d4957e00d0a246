from django import forms

from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES


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
