"""The bulk jobs pages: upload form and list, job page with htmx progress, cancel, retry, downloads."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from credits.selectors import balance_get
from credits.services import credits_grant
from credits.tests.factories import funded_user
from jobs.bulk import selectors, services
from jobs.models import BulkItem, BulkJob
from jobs.tests.bulk_helpers import NOT_FOUND, OUTAGE, asins, create_job, run_job

pytestmark = pytest.mark.django_db
PAGE = "/bulk/"


def csv_file(data: bytes, name: str = "asins.csv") -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


@pytest.fixture
def user_credits():
    return 50


@pytest.fixture
def user(user, client):
    """The shared ``user``, signed in on ``client``."""
    client.force_login(user)
    return user


def test_the_pages_need_login(client):
    for url in (PAGE, "/bulk/1/", "/bulk/1/progress", "/bulk/1/results.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_page_has_the_upload_form_and_the_users_jobs(client, user):
    mine = create_job(user, asins(2))
    other = create_job(funded_user(credits=5), asins(1))

    response = client.get(PAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="bulk-upload-form"' in html
    assert 'enctype="multipart/form-data"' in html
    assert f'href="/bulk/{mine.pk}/"' in html
    assert f'href="/bulk/{other.pk}/"' not in html
    assert '<a href="/bulk/">Bulk</a>' in html  # the nav link


def test_uploading_a_csv_starts_a_job_and_opens_its_page(client, user):
    data = b"asin\n" + b"\n".join(a.encode() for a in asins(3)) + b"\nbad\n"

    response = client.post(PAGE, {"file": csv_file(data, "list.csv"), "marketplace": "DE"})

    job = BulkJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/bulk/{job.pk}/"
    assert (job.filename, job.params, job.total, job.invalid) == ("list.csv", {"marketplace": "DE"}, 4, 1)
    assert balance_get(user=user) == 47
    page = client.get(response["Location"]).content.decode()
    assert f"Job #{job.pk} queued: 3 items, 3 credits held." in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"\x00\x01\x02PK\x03\x04", "not a text CSV"),
        (b"asin\nnope\n", "No valid ASIN"),
    ],
)
def test_a_bad_upload_shows_the_reason_and_creates_nothing(client, user, data, message):
    response = client.post(PAGE, {"file": csv_file(data), "marketplace": "US"})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="bulk-error"' in html
    assert message in html
    assert "Nothing was created or charged." in html
    assert BulkJob.objects.count() == 0
    assert balance_get(user=user) == 50


def test_an_upload_the_balance_cannot_cover_offers_to_buy_credits(client, user):
    data = b"\n".join(a.encode() for a in asins(51))

    response = client.post(PAGE, {"file": csv_file(data), "marketplace": "US"})

    assert response.status_code == 402
    assert "Insufficient credits" in response.content.decode()
    assert "Buy credits" in response.content.decode()
    assert BulkJob.objects.count() == 0


def test_a_running_job_page_polls_its_progress_with_htmx(client, user):
    job = create_job(user, asins(4))

    html = client.get(f"/bulk/{job.pk}/").content.decode()

    assert 'src="/static/vendor/htmx/htmx.min.js"' in html
    assert f'hx-get="/bulk/{job.pk}/progress"' in html
    assert 'hx-trigger="every 1s"' in html
    assert 'id="job-progress-bar" max="4" value="0"' in html
    assert "Cancel job" in html
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200


def test_the_progress_partial_stops_polling_when_the_job_is_done(client, user):
    job = run_job(create_job(user, [*asins(3), NOT_FOUND, "nope"]).pk)

    response = client.get(f"/bulk/{job.pk}/progress", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # the section alone
    assert "hx-get" not in html
    assert 'id="job-percent">100%' in html
    assert 'id="job-succeeded">3<' in html
    assert 'id="job-failed">2 ' in html
    assert "3 used of 4 held; 1 given back to your balance" in html
    assert "Retry failed items" in html
    assert f'href="/bulk/{job.pk}/results.csv"' in html
    assert f'href="/bulk/{job.pk}/results.json"' in html


def test_the_job_page_cancels_and_retries(client, user):
    job = create_job(user, asins(3))

    response = client.post(f"/bulk/{job.pk}/cancel", follow=True)

    assert "cancelled; 3 items were not processed" in response.content.decode()
    assert balance_get(user=user) == 50
    failed = run_job(create_job(user, [NOT_FOUND]).pk)
    response = client.post(f"/bulk/{failed.pk}/retry", follow=True)
    assert "1 failed items queued again" in response.content.decode()
    response = client.post(f"/bulk/{failed.pk}/retry", follow=True)
    assert "still running" in response.content.decode()


def test_downloads_and_another_users_job(client, user):
    job = run_job(create_job(user, asins(2)).pk)
    other = create_job(funded_user(credits=5), asins(1))

    csv_response = client.get(f"/bulk/{job.pk}/results.csv")
    json_response = client.get(f"/bulk/{job.pk}/results.json")

    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(csv_response.streaming_content).count(b"\n") == 3
    assert json_response["Content-Type"] == "application/json"
    downloaded = json.loads(b"".join(json_response.streaming_content))
    assert (downloaded["job"]["id"], downloaded["job"]["succeeded"]) == (job.pk, 2)
    assert [item["row"] for item in downloaded["results"]] == [1, 2]
    assert client.get(f"/bulk/{job.pk}/results.xml").status_code == 404
    for url in (f"/bulk/{other.pk}/", f"/bulk/{other.pk}/progress", f"/bulk/{other.pk}/results.csv"):
        assert client.get(url).status_code == 404
    assert client.post(f"/bulk/{other.pk}/cancel").status_code == 404
    other.refresh_from_db()
    assert other.status == "queued"


def test_after_retention_the_page_says_so_and_offers_no_downloads(client, user):
    job = run_job(create_job(user, [*asins(2), NOT_FOUND]).pk)
    services.bulk_job_results_delete(job=job)
    job.refresh_from_db()
    notice = f"Results removed on {job.results_deleted_at:%Y-%m-%d} (retention)"

    for url in (f"/bulk/{job.pk}/", f"/bulk/{job.pk}/progress"):
        html = client.get(url).content.decode()
        assert notice in html
        assert 'id="job-results-removed"' in html
        assert "results.csv" not in html
        assert "results.json" not in html
        assert "Download" not in html
        assert "Retry failed items" not in html  # nothing left to deliver a retry into
        assert 'id="job-succeeded">2<' in html
    # The per-item states and errors stay (in the items table); the delivered records are gone.
    html = client.get(f"/bulk/{job.pk}/").content.decode()
    assert "No product with ASIN B000000404" in html
    assert "Delivered; its result was removed (retention)." in html


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_download_after_retention_is_410_with_the_reason(client, user, fmt):
    job = run_job(create_job(user, asins(1)).pk)
    services.bulk_job_results_delete(job=job)
    job.refresh_from_db()

    response = client.get(f"/bulk/{job.pk}/results.{fmt}")

    html = response.content.decode()
    assert response.status_code == 410
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    assert f"removed on {job.results_deleted_at:%Y-%m-%d} (retention)" in html
    assert 'id="results-gone"' in html
    assert f'href="/bulk/{job.pk}/"' in html


# --- The items table -------------------------------------------------------------------------------


def items_of(html: str) -> list[tuple[str, str]]:
    """(row, state) of each line of the items table, in order."""
    return re.findall(r'<tr data-row="(\d+)" data-state="(\w+)">', html)


def mixed_job(user):
    """A finished job: rows 1-2 delivered, 3 not found (failed), 4 invalid."""
    return run_job(create_job(user, [*asins(2), NOT_FOUND, "not-an-asin"], marketplace="DE").pk)


def test_the_job_page_shows_its_items_in_plain_words(client, user):
    job = mixed_job(user)
    delivered = BulkItem.objects.get(job=job, row=1).result

    response = client.get(f"/bulk/{job.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert items_of(html) == [("1", "succeeded"), ("2", "succeeded"), ("3", "failed"), ("4", "invalid")]
    # In the sideways-scrolling wrapper, which a keyboard can focus (and so scroll).
    assert re.search(r'<div class="table-scroll" tabindex="0"[^>]*>\s*<table id="job-items-table">', html)
    assert '<th scope="col">ASIN</th>' in html
    assert '<span class="badge ok">delivered</span>' in html
    assert delivered["title"] in html  # the kind's summary of its record
    assert '<span class="badge">failed</span>' in html
    assert "No product with ASIN B000000404" in html  # the error in words, not its code
    assert "product_not_found" not in html
    assert "invalid input" in html
    assert "exactly 10 characters" in html
    assert "<code>not-an-asin</code>" in html
    assert "All items: 1 to 4 of 4" in html
    assert 'class="pagination' not in html  # one page


def test_the_items_are_filtered_by_state_with_counts(client, user):
    job = mixed_job(user)

    html = client.get(f"/bulk/{job.pk}/?status=failed").content.decode()

    assert items_of(html) == [("3", "failed")]
    assert 'aria-current="true">Failed <span class="muted">(1)</span>' in html
    assert 'href="?status=succeeded"' in html
    assert 'Delivered <span class="muted">(2)</span>' in html
    assert 'Invalid <span class="muted">(1)</span>' in html
    assert 'href="?status=retrying"' not in html  # no filter for a state no item is in
    assert items_of(client.get(f"/bulk/{job.pk}/?status=invalid").content.decode()) == [("4", "invalid")]
    assert items_of(client.get(f"/bulk/{job.pk}/?status=succeeded").content.decode()) == [
        ("1", "succeeded"),
        ("2", "succeeded"),
    ]


def test_a_filter_no_item_matches_says_so(client, user):
    job = run_job(create_job(user, asins(2)).pk)

    response = client.get(f"/bulk/{job.pk}/?status=failed")

    html = response.content.decode()
    assert response.status_code == 200
    assert items_of(html) == []
    assert 'id="job-items-empty"' in html
    assert "No items are failed right now." in html
    assert 'aria-current="true">Failed <span class="muted">(0)</span>' in html  # the chosen one stays


def test_the_items_come_in_pages_of_50(client, user):
    credits_grant(user=user, amount=100, reason="a bigger job")
    job = create_job(user, asins(120))

    first = client.get(f"/bulk/{job.pk}/").content.decode()
    last = client.get(f"/bulk/{job.pk}/?status=all&page=3").content.decode()

    assert [row for row, _ in items_of(first)] == [str(n) for n in range(1, 51)]
    assert "Page 1 of 3" in first
    assert 'href="?status=all&amp;page=2"' in first
    assert 'rel="prev"' not in first
    assert [row for row, _ in items_of(last)] == [str(n) for n in range(101, 121)]
    assert "All items: 101 to 120 of 120" in last
    assert "Page 3 of 3" in last
    assert 'href="?status=all&amp;page=2"' in last
    assert 'rel="next"' not in last
    assert {state for _, state in items_of(last)} == {"pending"}
    assert "waiting" in last


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?status=broken", 400, "Unknown item filter &#x27;broken&#x27;: use one of all, succeeded, failed"),
        ("?page=abc", 400, "The page is a whole number from 1, not &#x27;abc&#x27;."),
        ("?page=0", 400, "The page is a whole number from 1"),
        ("?status=failed&page=2", 404, "There is no page 2: these items fill 1 page."),
    ],
)
def test_a_filter_or_page_that_does_not_exist_is_a_clear_error(client, user, query, status, message):
    job = mixed_job(user)

    for url in (f"/bulk/{job.pk}/{query}", f"/bulk/{job.pk}/items{query}"):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == status, url
        assert 'id="job-items-error"' in html
        assert message in html
        assert items_of(html) == []
    assert 'id="job-progress"' in client.get(f"/bulk/{job.pk}/{query}").content.decode()  # the rest stays


def test_the_items_partial_is_what_htmx_swaps_in(client, user):
    credits_grant(user=user, amount=100, reason="a bigger job")
    job = create_job(user, asins(60))
    page_html = client.get(f"/bulk/{job.pk}/").content.decode()

    response = client.get(f"/bulk/{job.pk}/items?status=pending&page=2", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.strip().startswith('<section id="job-items"')
    assert [row for row, _ in items_of(html)] == [str(n) for n in range(51, 61)]
    # The links work without JavaScript (href) and with htmx (the partial, the address pushed).
    assert f'hx-get="/bulk/{job.pk}/items?status=pending&amp;page=1"' in html
    assert 'hx-push-url="?status=pending&amp;page=1"' in html
    assert 'href="?status=pending&amp;page=1"' in html
    assert 'hx-target="#job-items"' in page_html
    # While the job runs, the table refreshes itself, keeping its filter and page.
    assert f'hx-get="/bulk/{job.pk}/items?status=pending&amp;page=2" hx-trigger="every 5s"' in html


def test_a_finished_jobs_items_do_not_poll(client, user):
    job = mixed_job(user)

    html = client.get(f"/bulk/{job.pk}/items").content.decode()

    assert 'hx-trigger="every 5s"' not in html


def test_another_users_items_are_not_found(client, user):
    other = create_job(funded_user(credits=5), asins(1))

    assert client.get(f"/bulk/{other.pk}/items").status_code == 404


def test_an_fnsku_jobs_items_show_its_result_fields(client, user):
    job = services.bulk_job_create_from_list(
        user=user, kind="fnsku_conversion", values=["X001ABCDEF", "X002ABCDEF"], params={"marketplace": "US"}
    )
    BulkItem.objects.filter(job=job, row=1).update(
        status="succeeded",
        credits=job.item_price,
        finished_at=timezone.now(),
        result={"status": "found", "asin": "B0FNSKU001", "title": "Blue bottle", "confidence": 0.97},
    )
    BulkJob.objects.filter(pk=job.pk).update(succeeded=1)

    html = client.get(f"/bulk/{job.pk}/").content.decode()

    assert '<th scope="col">FNSKU</th>' in html
    assert "status: found, asin: B0FNSKU001, title: Blue bottle" in html
    assert items_of(html) == [("1", "succeeded"), ("2", "pending")]


# --- Honest progress: retries ------------------------------------------------------------------------


def test_the_reported_case_98_percent_with_one_item_retrying_is_not_less_than_a_minute(
    client, user, settings
):
    # 49 items go through at once; the 50th meets a provider outage and waits 2 minutes for its retry.
    settings.BULK_RETRY_DELAY = 120
    settings.BULK_RETRY_DELAY_MAX = 600
    job = create_job(user, [*asins(49), OUTAGE])
    services.bulk_job_work(job_id=job.pk, time_budget=0)
    retrying = BulkItem.objects.get(job=job, value=OUTAGE)
    assert (retrying.status, retrying.attempts) == ("pending", 1)

    for url in (f"/bulk/{job.pk}/", f"/bulk/{job.pk}/progress"):
        html = client.get(url).content.decode()
        assert 'id="job-percent">98%' in html
        assert "less than a minute" not in html
        assert re.search(r'id="job-time-left">about 2 min left \(retries included\)', html), url
        note = re.search(r'<p class="muted" id="job-retrying">([^<]*)</p>', html)
        assert note, url
        assert note.group(1).startswith("1 item is being retried after an error (")
        assert note.group(1).endswith("; next attempt in ~2 min.")

    html = client.get(f"/bulk/{job.pk}/?status=retrying").content.decode()
    assert items_of(html) == [("50", "retrying")]
    assert "retrying (attempt 2 of 5)" in html
    assert "Last try: " in html
    assert "next attempt in ~2 min." in html
    assert 'Retrying <span class="muted">(1)</span>' in html


def test_a_retry_due_in_seconds_says_so(client, user):
    job = create_job(user, asins(3))
    now = timezone.now()
    BulkItem.objects.filter(job=job, row__lte=2).update(status="succeeded", credits=1, finished_at=now)
    BulkItem.objects.filter(job=job, row=3).update(
        attempts=2,
        available_at=now + timedelta(seconds=40),
        error_code="upstream_unavailable",
        error_message="The data provider is unavailable.",
    )
    BulkJob.objects.filter(pk=job.pk).update(
        status="running", run_started_at=now - timedelta(seconds=10), succeeded=2, credits_spent=2
    )

    html = client.get(f"/bulk/{job.pk}/progress").content.decode()

    # ~40 s, rounded up, less the time the request took (seconds on a busy machine).
    soon = r"~(3\d|40) s\."
    assert re.search(
        r"1 item is being retried after an error \(The data provider is unavailable\); next attempt in "
        + soon,
        html,
    )
    # The wait for the retry (40 s), not the pace of the others (2 items in 10 s: 5 s for the last).
    job.refresh_from_db()
    assert 30 < selectors.bulk_job_progress(job=job).eta_seconds <= 40
    assert 'id="job-time-left">less than a minute left (retries included)' in html
    row = client.get(f"/bulk/{job.pk}/items?status=retrying").content.decode()
    assert "retrying (attempt 3 of 5)" in row
    assert re.search(r"Last try: The data provider is unavailable; next attempt in " + soon, row)


def test_a_job_without_a_pace_yet_is_estimating(client, user):
    job = create_job(user, asins(3))
    BulkJob.objects.filter(pk=job.pk).update(status="running", run_started_at=timezone.now())

    html = client.get(f"/bulk/{job.pk}/progress").content.decode()

    assert 'id="job-time-left">Estimating the time left…' in html
    assert 'id="job-retrying"' not in html


def test_an_item_whose_worker_was_lost_is_shown_being_retried(client, user):
    job = create_job(user, asins(2))
    started = timezone.now()
    services._claim(job.pk, token="t1", worker="celery@gone", size=1)
    services.bulk_claims_release_worker(worker="celery@gone", claimed_before=started + timedelta(seconds=1))

    html = client.get(f"/bulk/{job.pk}/").content.decode()

    assert items_of(html) == [("1", "retrying"), ("2", "pending")]
    assert "retrying (attempt 2 of 5)" in html
    assert "The worker processing it stopped; it is tried again." in html
    assert "1 item is being retried after an error; the next attempt is due now." in html


def test_the_exports_carry_sales_velocity_with_its_source(client, user):
    import csv

    job = run_job(create_job(user, asins(3)).pk)

    text = b"".join(client.get(f"/bulk/{job.pk}/results.csv").streaming_content).decode()
    downloaded = json.loads(b"".join(client.get(f"/bulk/{job.pk}/results.json").streaming_content))

    rows = list(csv.DictReader(io.StringIO(text)))
    velocity_columns = [
        "monthly_sold",
        "monthly_sold_as_of",
        "rank_drops_30",
        "rank_drops_90",
        "rank_drops_180",
        "rank_drops_365",
        "rank_drops_as_of",
        "sales_data_source",
        "sales_data_note",
    ]
    assert all(column in rows[0] for column in velocity_columns)
    for row, item in zip(rows, downloaded["results"], strict=True):
        velocity = item["result"]["sales_velocity"]
        assert velocity["source"] == "sandbox"
        assert item["result"]["sample_data"] is True
        assert (row["sales_data_source"], row["sample_data"]) == ("sandbox", "True")
        assert row["rank_drops_30"] == str(velocity["rank_drops_30"])
        assert row["rank_drops_90"] == str(velocity["rank_drops_90"])
        assert row["monthly_sold"] == (
            "" if velocity["monthly_sold"] is None else str(velocity["monthly_sold"])
        )
        assert row["sales_data_note"] == ""


def test_the_export_columns_say_sp_api_has_no_sales_figure_and_leave_old_records_empty():
    from jobs.bulk.asin_lookup import ASIN_EXPORT_COLUMNS

    spapi = {
        "provider": "spapi",
        "sales_velocity": {
            "source": "spapi",
            "monthly_sold": None,
            "unavailable": "not available from SP-API",
        },
    }
    stored_before = {"provider": "keepa", "record_version": 2}

    def cells(record):
        return {column.header: column.value(record) for column in ASIN_EXPORT_COLUMNS}

    assert cells(spapi)["sales_data_note"] == "not available from SP-API"
    assert cells(spapi)["monthly_sold"] is None
    assert {
        cells(stored_before)[name] for name in ("monthly_sold", "rank_drops_30", "sales_data_source")
    } == {None}
