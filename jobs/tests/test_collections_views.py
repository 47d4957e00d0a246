"""The collections pages: list, create with a cost preview (textarea or CSV), edit, detail with runs
and downloads, run now, delete; login and ownership."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from credits.selectors import balance_get
from credits.tests.factories import funded_user
from jobs.collections import services
from jobs.models import BulkJob, Collection, CollectionRun
from jobs.tests.bulk_helpers import asins, run_job
from jobs.tests.collection_factories import make_collection

pytestmark = pytest.mark.django_db
PAGE = "/collections/"


@pytest.fixture
def user_credits():
    return 50


@pytest.fixture
def user(user, client):
    """The shared ``user``, signed in on ``client``."""
    client.force_login(user)
    return user


def form(**fields):
    return {
        "name": "Mine",
        "kind": "asin_lookup",
        "marketplace": "US",
        "schedule": "daily",
        "items": "",
        **fields,
    }


def test_the_pages_need_login(client):
    for url in (PAGE, f"{PAGE}new", f"{PAGE}1/", f"{PAGE}1/edit", f"{PAGE}1/runs/1/results.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_nav_and_the_list(client, user):
    mine = make_collection(user, 4, name="Mine")
    make_collection(funded_user(), 1, name="Someone else's")
    page = client.get(PAGE).content.decode()
    assert f'href="{PAGE}"' in page  # the nav link
    assert "Mine" in page
    assert "Someone else" not in page
    assert f"{PAGE}{mine.pk}/" in page
    assert "4 credits" in page


def test_preview_shows_the_cost_and_saves_nothing_then_save(client, user):
    text = f"{asins(1)[0]}, {asins(2, 1)[0]}\n{asins(2, 1)[1].lower()}  {asins(1)[0]}\n"

    preview = client.post(f"{PAGE}new", form(items=text, preview="1"))

    assert preview.status_code == 200
    page = preview.content.decode()
    assert 'id="collection-preview-cost">3 credits' in page
    assert "Not saved yet" in page
    assert "\n".join(asins(3)) in page  # the checked entries replace what was typed
    assert Collection.objects.count() == 0
    assert "<script>" not in page
    assert "onclick" not in page

    saved = client.post(f"{PAGE}new", form(items="\n".join(asins(3)), save="1"))
    collection = Collection.objects.get()
    assert saved.status_code == 302
    assert saved["Location"] == f"{PAGE}{collection.pk}/"
    assert collection.items == asins(3)
    assert collection.user == user
    detail = client.get(saved["Location"]).content.decode()
    assert "up to 3 credits per run" in detail  # the message
    assert 'id="collection-cost">up to 3 credits' in detail
    assert balance_get(user=user) == 50


def test_a_csv_upload_fills_the_list(client, user):
    file = io.BytesIO(("asin,title\n" + "\n".join(f"{a},Thing" for a in asins(4))).encode())
    file.name = "list.csv"
    response = client.post(f"{PAGE}new", {**form(preview="1"), "file": file})
    assert response.status_code == 200
    assert 'id="collection-preview-cost">4 credits' in response.content.decode()


def test_bad_input_shows_the_rows_and_saves_nothing(client, user, settings):
    response = client.post(f"{PAGE}new", form(items="B0BLK00001 nope", save="1"))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="collection-error"' in page
    assert "Entry 2 (nope)" in page
    settings.BULK_MAX_UPLOAD_BYTES = 10
    file = io.BytesIO(b"asin\n" + "\n".join(asins(5)).encode())
    file.name = "big.csv"
    too_big = client.post(f"{PAGE}new", {**form(save="1"), "file": file})
    assert too_big.status_code == 413
    assert "the limit is" in too_big.content.decode()
    assert Collection.objects.count() == 0


def test_edit_and_delete(client, user):
    collection = make_collection(user, 2)
    page = client.get(f"{PAGE}{collection.pk}/edit").content.decode()
    assert "\n".join(asins(2)) in page

    response = client.post(
        f"{PAGE}{collection.pk}/edit",
        form(name="Renamed", items="\n".join(asins(6)), schedule="hourly", save="1"),
    )
    assert response.status_code == 302
    collection.refresh_from_db()
    assert (collection.name, collection.item_count, collection.schedule) == ("Renamed", 6, "hourly")

    assert client.get(f"{PAGE}{collection.pk}/delete").status_code == 200
    assert client.post(f"{PAGE}{collection.pk}/delete").status_code == 302
    assert not Collection.objects.filter(pk=collection.pk).exists()


def test_run_now_history_and_downloads(client, user):
    collection = make_collection(user, 3)
    response = client.post(f"{PAGE}{collection.pk}/run")
    assert response.status_code == 302
    run = CollectionRun.objects.get()
    run_job(run.job_id)

    page = client.get(f"{PAGE}{collection.pk}/").content.decode()
    assert f'id="run-{run.pk}" data-status="started"' in page
    assert "Completed" in page
    assert f"/bulk/{run.job_id}/" in page
    csv_link = f"{PAGE}{collection.pk}/runs/{run.pk}/results.csv"
    assert csv_link in page
    download = client.get(csv_link)
    assert download.status_code == 200
    content = b"".join(download.streaming_content).decode()
    assert all(asin in content for asin in asins(3))
    assert client.get(f"{PAGE}{collection.pk}/runs/{run.pk}/results.json").status_code == 200
    assert client.get(f"{PAGE}{collection.pk}/runs/{run.pk}/results.xml").status_code == 404

    CollectionRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=40))
    services.collection_runs_expire_results()
    assert client.get(csv_link).status_code == 410
    assert "deleted" in client.get(f"{PAGE}{collection.pk}/").content.decode()


def test_a_skipped_run_is_shown_with_its_reason(client):
    poor = funded_user(credits=1)
    client.force_login(poor)
    collection = make_collection(poor, 3)
    response = client.post(f"{PAGE}{collection.pk}/run", follow=True)
    page = response.content.decode()
    assert "this costs 3 and your balance is 1" in page  # the message
    run = CollectionRun.objects.get()
    assert f'id="run-{run.pk}" data-status="skipped"' in page
    assert "Skipped" in page
    assert "Buy credits" in page
    assert BulkJob.objects.count() == 0
    assert balance_get(user=poor) == 1


def test_another_users_collection_is_404(client, user):
    theirs = make_collection(funded_user(credits=10), 1)
    for url in (f"{PAGE}{theirs.pk}/", f"{PAGE}{theirs.pk}/edit", f"{PAGE}{theirs.pk}/delete"):
        assert client.get(url).status_code == 404
    assert client.post(f"{PAGE}{theirs.pk}/run").status_code == 404
    assert client.post(f"{PAGE}{theirs.pk}/delete").status_code == 404
    assert Collection.objects.filter(pk=theirs.pk).exists()
    assert CollectionRun.objects.count() == 0
