"""POST /api/v1/conversion/fnsku/label: a label photo converted through the one metered call."""

import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from conversion.evaluation.label_images import Label, photo, png, render_label
from conversion.models import Conversion
from conversion.tests.conftest import lookalike_pair
from conversion.tests.test_api import charges, client_for
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversion/fnsku/label"


def label_photo(fnsku: str, title: str, condition: str = "New") -> SimpleUploadedFile:
    data = photo(render_label(Label(fnsku, title, condition)), rng=random.Random(fnsku))
    return SimpleUploadedFile("label.jpg", data, content_type="image/jpeg")


def test_a_label_photo_is_read_and_converted_charged_once():
    user = funded_user(credits=10)
    asin_a, title_a, asin_b, _ = lookalike_pair()

    response = client_for(user).post(
        URL, {"image": label_photo("X00PH0T0AA", title_a, "Used - Like New"), "marketplace": "US"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["read"]["fnsku"] == "X00PH0T0AA"
    assert body["read"]["condition"] == "Used - Like New"
    assert body["read"]["title"] == title_a
    assert body["fnsku"] == "X00PH0T0AA"
    assert body["label_text"] == title_a
    assert body["asin"] == asin_a
    assert asin_b in [c["asin"] for c in body["candidates"]]
    assert body["charged"] is True
    assert response["X-Credits-Remaining"] == "8"
    assert len(charges(user)) == 1
    conversion = Conversion.objects.get(user=user)
    assert (conversion.fnsku, conversion.label_text) == ("X00PH0T0AA", title_a)


def test_the_same_photo_again_with_its_idempotency_key_is_not_charged_again():
    user = funded_user(credits=10)
    _, title_a, _, _ = lookalike_pair()
    client = client_for(user)

    first = client.post(URL, {"image": label_photo("X00PH0T0AB", title_a)}, HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(URL, {"image": label_photo("X00PH0T0AB", title_a)}, HTTP_IDEMPOTENCY_KEY="k1")

    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["charged"] is False
    assert len(charges(user)) == 1
    assert balance_get(user=user) == 8


def _bomb() -> bytes:
    from PIL import Image

    return png(Image.new("1", (20_000, 20_000), 1))


def _no_barcode() -> bytes:
    from PIL import Image

    return png(Image.new("L", (800, 300), 255))


def _truncated() -> bytes:
    data = photo(render_label(Label("X00CUT0FFX", "A title", "New")), rng=random.Random(1))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: b"not an image at all", "not_an_image"),
        (lambda: b"", "image_missing"),
        (_bomb, "image_too_large"),
        (_truncated, "image_unreadable"),
        (_no_barcode, "label_no_barcode"),
    ],
    ids=["text", "empty", "bomb", "truncated", "no-barcode"],
)
def test_bad_photos_are_400_and_not_charged(make, code):
    user = funded_user(credits=10)
    upload = SimpleUploadedFile("label.jpg", make(), content_type="image/jpeg")

    response = client_for(user).post(URL, {"image": upload})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"]
    # An empty upload is refused by the serializer, before the reader sees it.
    assert error["code"] == code or (code == "image_missing" and error["code"] == "invalid")
    assert balance_get(user=user) == 10
    assert charges(user) == []
    assert not Conversion.objects.filter(user=user).exists()


def test_a_heic_label_photo_is_read_and_converted():
    import io

    import pillow_heif
    from PIL import Image

    user = funded_user(credits=10)
    asin_a, title_a, _, _ = lookalike_pair()
    jpeg = photo(render_label(Label("X00HE1C0AA", title_a, "New")), rng=random.Random(7))
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.open(io.BytesIO(jpeg)).convert("RGB")).save(out, quality=80)
    upload = SimpleUploadedFile("IMG_0001.HEIC", out.getvalue(), content_type="image/heic")

    response = client_for(user).post(URL, {"image": upload, "marketplace": "US"})

    assert response.status_code == 200, response.content
    assert response.json()["read"]["fnsku"] == "X00HE1C0AA"
    assert response.json()["asin"] == asin_a
    assert len(charges(user)) == 1


def test_an_image_format_not_accepted_is_400_naming_it_and_not_charged():
    import io

    from PIL import Image

    user = funded_user(credits=10)
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, format="ICO")
    upload = SimpleUploadedFile("label.ico", out.getvalue(), content_type="image/x-icon")

    response = client_for(user).post(URL, {"image": upload})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "image_format_unsupported"
    assert error["detail"]["format"] == "ICO"
    assert balance_get(user=user) == 10
    assert charges(user) == []


def test_over_the_size_limit_is_400_and_not_charged(settings):
    settings.CONVERSION_LABEL_MAX_BYTES = 2_000
    user = funded_user(credits=10)

    response = client_for(user).post(URL, {"image": label_photo("X00PH0T0AC", "A title")})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "image_too_large"
    assert balance_get(user=user) == 10
    assert charges(user) == []


def test_no_image_or_a_bad_marketplace_is_400_and_not_charged():
    user = funded_user(credits=10)
    client = client_for(user)

    missing = client.post(URL, {"marketplace": "US"})
    bad_market = client.post(URL, {"image": label_photo("X00PH0T0AD", "A title"), "marketplace": "XX"})

    assert missing.status_code == bad_market.status_code == 400
    assert bad_market.json()["error"]["code"] == "invalid_marketplace"
    assert charges(user) == []


def test_the_endpoint_is_documented():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/api/v1/conversion/fnsku/label"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"200", "400", "402", "404", "503"} <= set(operation["responses"])
    answer = schema["components"]["schemas"]["ConversionLabelOutput"]
    assert "read" in answer["properties"]
