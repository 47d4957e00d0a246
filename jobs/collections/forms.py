from django import forms

from jobs.models import CollectionKind, Schedule
from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES


class CollectionForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(label="Contents", choices=CollectionKind.choices, initial=CollectionKind.ASIN)
    marketplace = forms.ChoiceField(
        choices=[(code, f"{code} · {m.name}") for code, m in MARKETPLACES.items()],
        initial=DEFAULT_MARKETPLACE,
    )
    schedule = forms.ChoiceField(choices=Schedule.choices, initial=Schedule.DAILY)
    items = forms.CharField(
        label="ASINs or FNSKUs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 40, "spellcheck": "false"}),
        help_text="One per line (or separated by commas or spaces).",
    )
    # Empty files are let through: the upload's own checks explain every problem the same way.
    file = forms.FileField(
        label="…or a CSV file",
        required=False,
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,text/csv,text/plain"}),
        help_text="Replaces the list above: the column named asin (or fnsku), else the first column.",
    )
