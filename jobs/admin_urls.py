"""The moved models' old admin addresses redirect to the new ones.

The admin's addresses follow the app label: /admin/products/bulkjob/... is now
/admin/jobs/bulkjob/... and /admin/schedules/collection/... /admin/jobs/collection/...
Operators' bookmarks and links in old notes keep working (the query string is kept).
Mounted by config/urls.py before the admin itself.
"""

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.urls import re_path


def _moved(request: HttpRequest, model: str, rest: str) -> HttpResponsePermanentRedirect:
    query = request.META.get("QUERY_STRING", "")
    return HttpResponsePermanentRedirect(f"/admin/jobs/{model}/{rest}" + (f"?{query}" if query else ""))


def _app_index(request: HttpRequest) -> HttpResponsePermanentRedirect:
    return HttpResponsePermanentRedirect("/admin/jobs/")


urlpatterns = [
    re_path(r"^products/(?P<model>bulkjob|bulkitem)/(?P<rest>.*)$", _moved),
    re_path(r"^schedules/(?P<model>collection|collectionrun)/(?P<rest>.*)$", _moved),
    re_path(r"^schedules/$", _app_index),
]
