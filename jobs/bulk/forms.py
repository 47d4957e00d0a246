from django import forms

from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES


class BulkUploadForm(forms.Form):
    # Empty files are let through: the upload's own checks explain every problem the same way.
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,text/csv,text/plain"}),
    )
    marketplace = forms.ChoiceField(
        choices=[(code, f"{code} · {m.name}") for code, m in MARKETPLACES.items()],
        initial=DEFAULT_MARKETPLACE,
    )
