from django import forms


class LowBalanceThresholdForm(forms.Form):
    threshold = forms.IntegerField(
        min_value=0,
        max_value=10_000_000,
        required=False,
        label="Notify me below",
        help_text="Credits. Leave empty for no notice.",
        widget=forms.NumberInput(attrs={"placeholder": "e.g. 100"}),
    )


USAGE_PERIODS = [(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "365 days")]


class UsagePeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=USAGE_PERIODS,
        coerce=int,
        required=False,
        empty_value=None,
    )
