"""The convert page's "Photo of a label" form (conversion/views.py ``label_photo``)."""

import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.tests.factories import PASSWORD
from conversion.evaluation.label_images import Label, photo, render_label
from conversion.models import Conversion
from conversion.tests.conftest import lookalike_pair
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

URL = "/convert/label/"


@pytest.fixture
def user():
    return funded_user(credits=10)


@pytest.fixture
def client(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("label.jpg", data, content_type="image/jpeg")


def test_the_convert_page_offers_a_camera_photo_form(client):
    html = client.get("/convert/").content.decode()

    assert 'action="/convert/label/"' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file" name="image" accept="image/*" capture="environment"' in html


def test_a_label_photo_shows_the_result_card_and_what_was_read(client, user):
    asin_a, title_a, _, _ = lookalike_pair()
    data = photo(render_label(Label("X00PAGE0PH", title_a, "New")), rng=random.Random(4))

    response = client.post(URL, {"image": upload(data), "marketplace": "US"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="result-card"' in html
    assert asin_a in html
    assert 'id="label-read"' in html
    assert "X00PAGE0PH" in html
    conversion = Conversion.objects.get(user=user)
    assert (conversion.fnsku, conversion.channel) == ("X00PAGE0PH", Conversion.Channel.PAGE)
    assert balance_get(user=user) == 8


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"hello", "not an image"), (None, "Choose a photo of the label")],
    ids=["not-an-image", "no-file"],
)
def test_a_bad_photo_shows_the_reason_and_charges_nothing(client, user, data, message):
    payload = {"marketplace": "US"} | ({"image": upload(data)} if data is not None else {})

    response = client.post(URL, payload)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert balance_get(user=user) == 10
    assert not Conversion.objects.filter(user=user).exists()


def test_the_photo_form_needs_a_login():
    response = Client().post(URL, {})

    assert response.status_code == 302
    assert "/login" in response["Location"]
