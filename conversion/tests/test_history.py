"""The conversions history page (/convert/history/) and what the result card tells a person."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from conversion.models import Conversion, ConversionFeedback
from conversion.tests.conftest import lookalike_pair
from conversion.tests.factories import ConversionFactory
from credits.models import LedgerEntry
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
URL = "/convert/history/"


@pytest.fixture
def person():
    return funded_user(credits=20)


@pytest.fixture
def client(person):
    client = Client()
    assert client.login(email=person.email, password=PASSWORD)
    return client


def answered(user, **fields):
    defaults = {
        "user": user,
        "status": Conversion.Status.RESOLVED,
        "asin": "B0HISTORY1",
        "title": "Trailhead Hiking Backpack 30L, Blue",
        "confidence": 0.92,
        "credits_charged": 2,
        "candidates": [
            {"asin": "B0HISTORY1", "title": "Trailhead Hiking Backpack 30L, Blue", "score": 0.9},
            {"asin": "B0HISTORY2", "title": "Trailhead Hiking Backpack 30L, Red", "score": 0.41},
        ],
    }
    return ConversionFactory(**{**defaults, **fields})


def test_history_needs_a_login():
    response = Client().get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_history_lists_the_users_conversions_newest_first(client, person):
    now = timezone.now()
    older = answered(person, fnsku="X001OLDER1", created_at=now - timedelta(hours=5))
    newer = answered(person, fnsku="X001NEWER1", created_at=now - timedelta(minutes=3), sample_data=True)
    answered(funded_user(credits=1), fnsku="X001OTHERS")
    ConversionFactory(user=person, fnsku="X001PENDNG")  # still running: not history yet

    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(newer.fnsku) < html.index(older.fnsku)
    assert "X001OTHERS" not in html
    assert "X001PENDNG" not in html
    assert "92% sure" in html
    assert "3 min ago" in html
    assert "5 h ago" in html
    assert html.count('class="badge sample"') == 1
    assert "It is B0HISTORY2 (41%)" in html
    assert '<div class="table-scroll" tabindex="0">' in html


def test_the_convert_page_links_to_the_history(client):
    html = client.get("/convert/").content.decode()
    assert f'href="{URL}"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "x001find"}, {"X001FINDME"}),
        ({"q": "B0OTHERASN"}, {"X001ASINME"}),
        ({"q": "kitchen scale"}, {"X001TITLEM"}),
        ({"status": "not_found"}, {"X001MISSED"}),
        ({"q": "X001", "status": "resolved"}, {"X001FINDME", "X001ASINME", "X001TITLEM"}),
        ({"q": "nothing like it"}, set()),
    ],
)
def test_history_search_and_status_filter(client, person, query, expected):
    answered(person, fnsku="X001FINDME")
    answered(person, fnsku="X001ASINME", asin="B0OTHERASN")
    answered(person, fnsku="X001TITLEM", title="Kitchen Scale Digital, Silver")
    ConversionFactory(user=person, fnsku="X001MISSED", status=Conversion.Status.NOT_FOUND)

    html = client.get(URL, query).content.decode()

    shown = {code for code in ("X001FINDME", "X001ASINME", "X001TITLEM", "X001MISSED") if code in html}
    assert shown == expected
    if not expected:
        assert "No conversion matches." in html


def test_a_bad_status_filter_is_a_clear_400(client):
    response = client.get(URL, {"status": "wrong"})
    assert response.status_code == 400
    assert "Status: Select a valid choice." in response.content.decode()


def test_history_is_paged(client, person):
    now = timezone.now()
    for n in range(30):
        answered(person, fnsku=f"X001PAGE{n:02d}", created_at=now - timedelta(minutes=n))

    first = client.get(URL).content.decode()
    second = client.get(URL, {"page": 2}).content.decode()

    assert "X001PAGE00" in first
    assert "X001PAGE24" in first
    assert "X001PAGE25" not in first
    assert "Page 1 of 2" in first
    assert "X001PAGE25" in second
    assert "X001PAGE29" in second
    assert "X001PAGE00" not in second


def test_history_exports_csv_with_formulas_escaped(client, person):
    answered(
        person,
        fnsku="X001EXPORT",
        label_text='=HYPERLINK("http://evil")',
        sample_data=True,
        provider="sandbox",
    )
    answered(person, fnsku="X001FILTER", status=Conversion.Status.AMBIGUOUS)

    response = client.get(URL, {"status": "resolved", "export": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["fnsku"] for row in rows] == ["X001EXPORT"]
    assert rows[0]["label_text"].startswith("'=HYPERLINK")
    assert (rows[0]["sample_data"], rows[0]["provider"], rows[0]["status"]) == ("true", "sandbox", "resolved")


def test_feedback_from_the_history_page(client, person):
    conversion = answered(person, fnsku="X001FEEDHI")

    response = client.post(f"/convert/{conversion.pk}/feedback/", {"asin": "B0HISTORY2"})

    assert response.status_code == 302
    assert response["Location"] == URL
    feedback = ConversionFeedback.objects.get(conversion=conversion)
    assert (feedback.verdict, feedback.asin) == ("corrected", "B0HISTORY2")
    page = client.get(URL).content.decode()
    assert "Thanks: you corrected X001FEEDHI to B0HISTORY2." in page
    assert "You corrected it to" in page


def test_feedback_from_the_history_page_with_a_bad_asin_says_why(client, person):
    conversion = answered(person, fnsku="X001FEEDBD")

    response = client.post(f"/convert/{conversion.pk}/feedback/", {"asin": "not an asin"}, follow=True)

    assert response.status_code == 200
    assert not ConversionFeedback.objects.exists()
    assert "ASIN" in response.content.decode()


# --- The result card --------------------------------------------------------------------------------


def test_the_result_card_speaks_percent_and_plain_words(client):
    _, title_a, _, _ = lookalike_pair()

    body = client.post(
        "/convert/scan/", {"fnsku": "X001CARDPC", "label_text": title_a, "marketplace": "US"}, **JSON
    ).json()

    html = body["html"]
    assert "% sure" in html
    assert "score " not in html
    assert 'class="badge sample"' in html
    assert "Sample data" in html
    for internal in ("catalog_search", "mapping_store", "<strong>"):
        assert internal not in html


def test_a_rescan_on_the_page_says_it_was_not_charged_again(client, person):
    _, title_a, _, _ = lookalike_pair()
    scan = {"fnsku": "X001CARDRS", "label_text": title_a, "marketplace": "US"}

    first = client.post("/convert/scan/", scan, **JSON).json()
    again = client.post("/convert/scan/", scan, **JSON).json()

    assert again["conversion"]["replayed_from"] == first["conversion"]["id"]
    assert again["conversion"]["charged"] is False
    assert "Converted less than a minute ago - not charged again" in again["html"]
    assert LedgerEntry.objects.filter(account__user=person, kind="charge").count() == 1


def test_feedback_from_a_form_on_someone_elses_conversion_is_404(client):
    theirs = answered(funded_user(credits=1), fnsku="X001THEIRS")

    response = client.post(f"/convert/{theirs.pk}/feedback/", {"asin": "B0HISTORY1"})

    assert response.status_code == 404
    assert not ConversionFeedback.objects.exists()
