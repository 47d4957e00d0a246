from typing import Any, cast

from django import forms

from jobs.bulk.asin_lookup import ASIN_LOOKUP
from jobs.bulk.kinds import bulk_kinds_offered
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
    # The ASIN lookup and the kinds other apps offer with it (resale: fees and profit).
    kind = forms.ChoiceField(label="Results", initial=ASIN_LOOKUP, required=False, widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = bulk_kinds_offered(ASIN_LOOKUP)
        field = cast(forms.ChoiceField, self.fields["kind"])
        field.choices = [(kind.name, kind.label) for kind in self.kinds]

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or ASIN_LOOKUP
