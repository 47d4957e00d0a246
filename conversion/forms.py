from django import forms

from products.marketplaces import DEFAULT_MARKETPLACE, MARKETPLACES

MARKETPLACE_CHOICES = [(code, f"{code} · {m.name}") for code, m in MARKETPLACES.items()]


class ScanForm(forms.Form):
    # Checked by the service (normalize_fnsku), which says precisely what is wrong.
    fnsku = forms.CharField(
        max_length=64,
        required=False,
        strip=False,
        label="FNSKU",
        widget=forms.TextInput(
            attrs={
                "placeholder": "Scan or type, e.g. X001ABCDEF (or an EAN/UPC barcode)",
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
            }
        ),
    )
    marketplace = forms.ChoiceField(choices=MARKETPLACE_CHOICES, initial=DEFAULT_MARKETPLACE)
    label_text = forms.CharField(
        max_length=1000,
        required=False,
        label="Label text",
        widget=forms.TextInput(
            attrs={"placeholder": "Product name printed on the label (optional)", "autocomplete": "off"}
        ),
    )


class LabelPhotoForm(forms.Form):
    # Checked by the reader (conversion/labels.py), which says precisely what is wrong with a photo.
    image = forms.FileField(
        label="Photo of the label",
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    marketplace = forms.ChoiceField(choices=MARKETPLACE_CHOICES, initial=DEFAULT_MARKETPLACE)


class FeedbackForm(forms.Form):
    asin = forms.CharField(max_length=64)


class HistoryFilterForm(forms.Form):
    """The conversions history's search (FNSKU, ASIN or title words) and status filter."""

    STATUS_CHOICES = [
        ("", "Any status"),
        ("resolved", "Resolved"),
        ("ambiguous", "Ambiguous"),
        ("not_found", "Not found"),
        ("unavailable", "Sources down"),
        ("insufficient_credits", "Not enough credits"),
    ]

    q = forms.CharField(
        max_length=100,
        required=False,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "FNSKU, ASIN or title words", "type": "search"}),
    )
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, label="Status")


class InventoryImportForm(forms.Form):
    file = forms.FileField(label="Inventory report (CSV or tab-separated)")
    marketplace = forms.ChoiceField(choices=MARKETPLACE_CHOICES, initial=DEFAULT_MARKETPLACE)


class SpApiConnectionForm(forms.Form):
    selling_partner_id = forms.CharField(max_length=64, label="Selling partner id (merchant token)")
    refresh_token = forms.CharField(
        max_length=2100,
        label="Refresh token",
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "placeholder": "Atzr|..."}),
    )


class SyncForm(forms.Form):
    marketplace = forms.ChoiceField(choices=MARKETPLACE_CHOICES, initial=DEFAULT_MARKETPLACE)
