from django import forms

from webhooks.services import EVENTS


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "https://example.com/webhooks", "size": 60}),
    )
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {meaning}") for name, meaning in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(max_length=200, required=False)


class WebhookEndpointEditForm(WebhookEndpointForm):
    is_active = forms.BooleanField(label="Active (untick to pause)", required=False)


class WebhookRotateForm(forms.Form):
    expire_old_now = forms.BooleanField(label="Stop signing with the old secret at once", required=False)
