"""The collections pages: list, create and edit (with a server-side cost preview), detail with
its runs and downloads, run now, delete."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.types import AuthedHttpRequest
from core.api_errors import http_status
from core.errors import DomainError
from jobs.bulk import exports
from jobs.bulk.conf import bulk_settings
from jobs.bulk.uploads import check_upload_size
from jobs.collections import selectors, services
from jobs.collections.forms import CollectionForm
from jobs.collections.inputs import items_from_csv, items_from_text
from jobs.models import Collection

RUNS_SHOWN = 100
ITEMS_SHOWN = 200


def _collection(request: AuthedHttpRequest, collection_id: int) -> Collection:
    try:
        return selectors.collection_get(user=request.user, collection_id=collection_id)
    except DomainError:
        raise Http404("No such collection.") from None


def _values(request: AuthedHttpRequest, form: CollectionForm) -> list[str]:
    """The entries of the upload when there is one, else of the textarea."""
    upload = form.cleaned_data.get("file")
    if upload is None:
        return items_from_text(form.cleaned_data["items"])
    max_bytes = bulk_settings().max_upload_bytes
    check_upload_size(upload.size, max_bytes=max_bytes)
    return items_from_csv(kind=form.cleaned_data["kind"], data=upload.read(max_bytes + 1))


def _edit(request: AuthedHttpRequest, collection: Collection | None) -> HttpResponse:
    """Create (``collection`` None) or edit: "Preview cost" checks the input and shows
    what one run costs, saving nothing; "Save" saves and opens the collection."""
    if request.method == "GET":
        initial = {}
        if collection is not None:
            initial = {
                "name": collection.name,
                "kind": collection.kind,
                "marketplace": collection.marketplace,
                "schedule": collection.schedule,
                "items": "\n".join(collection.items),
            }
        form = CollectionForm(initial=initial)
        return render(
            request,
            "schedules/edit.html",
            {"form": form, "collection": collection, "limits": bulk_settings()},
        )
    form = CollectionForm(request.POST, request.FILES)
    context: dict[str, Any] = {"form": form, "collection": collection, "limits": bulk_settings()}
    if not form.is_valid():
        return render(request, "schedules/edit.html", context, status=400)
    fields = {name: form.cleaned_data[name] for name in ("name", "kind", "marketplace", "schedule")}
    try:
        preview = services.collection_preview(items=_values(request, form), **fields)
    except DomainError as exc:
        context["error"] = exc
        return render(request, "schedules/edit.html", context, status=http_status(exc))
    if "save" not in request.POST:
        # The checked entries replace what was typed (or uploaded), so "Save" keeps exactly these.
        data = QueryDict(mutable=True)
        data.update({**fields, "items": "\n".join(preview.items)})
        context.update(form=CollectionForm(data), preview=preview)
        return render(request, "schedules/edit.html", context)
    if collection is None:
        collection = services.collection_create(user=request.user, items=preview.items, **fields)
        messages.success(
            request,
            f"Collection saved: {collection.item_count:,} items, "
            f"up to {preview.cost.total:,} credits per run.",
        )
    else:
        collection = services.collection_update(collection=collection, items=preview.items, **fields)
        messages.success(request, f"Collection updated: up to {preview.cost.total:,} credits per run.")
    return redirect("collection-page", collection.pk)


@login_required
@require_GET
def collections(request: AuthedHttpRequest) -> HttpResponse:
    rows = [
        (collection, services.collection_cost(kind=collection.kind, items=collection.item_count))
        for collection in selectors.collection_list(user=request.user)
    ]
    return render(request, "schedules/list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def collection_new(request: AuthedHttpRequest) -> HttpResponse:
    return _edit(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def collection_edit(request: AuthedHttpRequest, collection_id: int) -> HttpResponse:
    return _edit(request, _collection(request, collection_id))


@login_required
@require_GET
def collection_detail(request: AuthedHttpRequest, collection_id: int) -> HttpResponse:
    collection = _collection(request, collection_id)
    context = {
        "collection": collection,
        "cost": services.collection_cost(kind=collection.kind, items=collection.item_count),
        "items": collection.items[:ITEMS_SHOWN],
        "runs": selectors.collection_run_list(collection=collection)[:RUNS_SHOWN],
        "retention_days": settings.COLLECTION_RESULTS_RETENTION_DAYS,
    }
    return render(request, "schedules/detail.html", context)


@login_required
@require_POST
def collection_run_now(request: AuthedHttpRequest, collection_id: int) -> HttpResponse:
    collection = _collection(request, collection_id)
    try:
        run = services.collection_run_now(collection=collection)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Run started: bulk job #{run.job_id}, {run.cost:,} credits held.")
    return redirect("collection-page", collection.pk)


@login_required
@require_http_methods(["GET", "POST"])
def collection_delete(request: AuthedHttpRequest, collection_id: int) -> HttpResponse:
    collection = _collection(request, collection_id)
    if request.method == "POST":
        services.collection_delete(collection=collection)
        messages.success(request, f"Collection “{collection.name}” deleted.")
        return redirect("collections-page")
    return render(request, "schedules/delete.html", {"collection": collection})


@login_required
@require_GET
def collection_run_results(
    request: AuthedHttpRequest, collection_id: int, run_id: int, fmt: str
) -> HttpResponseBase:
    if fmt not in exports.FORMATS:
        raise Http404("Results come as .csv or .json.")
    try:
        run = selectors.collection_run_get(collection=_collection(request, collection_id), run_id=run_id)
    except DomainError:
        raise Http404("No such run.") from None
    try:
        job = selectors.collection_run_results_job(run=run)
    except DomainError as error:
        return render(request, "schedules/gone.html", {"error": error, "run": run}, status=http_status(error))
    return exports.results_response(job, fmt=fmt)
