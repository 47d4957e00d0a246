from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.dashboard import checklist_for, dashboard_context
from accounts.forms import ApiKeyCreateForm
from accounts.landing import landing_context
from accounts.types import AuthedHttpRequest
from core.errors import DomainError, NotFoundError


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "landing.html", landing_context(request))
    context = {
        "api_keys": selectors.api_key_list(user=request.user).filter(revoked_at__isnull=True)[:5],
        "checklist": checklist_for(request.user),
        **dashboard_context(request),
    }
    return render(request, "dashboard.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: AuthedHttpRequest) -> HttpResponse:
    created = None
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            api_key, raw_key = services.api_key_create(
                user=request.user, name=form.cleaned_data["name"], scopes=form.scopes()
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            created = {"api_key": api_key, "raw_key": raw_key}
            form = ApiKeyCreateForm()
    context = {
        "form": form,
        "created": created,
        "api_keys": selectors.api_key_list(user=request.user),
        "max_active_keys": settings.API_KEYS_MAX_ACTIVE,
    }
    # The new key is rendered in this response only (never redirected through a
    # cookie or the session), so it is shown exactly once.
    response = render(request, "accounts/api_keys.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_revoke(request: AuthedHttpRequest, key_id: int) -> HttpResponse:
    try:
        api_key = services.api_key_revoke(user=request.user, key_id=key_id)
    except NotFoundError as exc:
        # Someone else's key is not found, as on every page (the 404 page shows the message).
        messages.error(request, exc.message)
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"API key “{api_key.name}” revoked.")
    return redirect("api-keys")
