"""The convert page and its endpoints, through Django's test client (session auth, CSRF on)."""

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.tests.factories import PASSWORD
from conversion.models import Conversion, ConversionFeedback, FnskuMapping
from credits.selectors import balance_get
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def user_credits():
    return 10


@pytest.fixture
def client(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_pages_need_a_login():
    response = Client().get("/convert/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_convert_page_is_made_for_scanners(client):
    response = client.get("/convert/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="fnsku"' in html
    assert "autofocus" in html
    assert 'id="scan-form"' in html
    assert 'id="scan-list"' in html
    assert 'id="paste-codes"' in html
    assert "js/convert.js" in html
    assert "<script>" not in html  # no inline scripts
    assert 'href="/convert/"' in html  # the nav link


def test_only_the_scanner_page_lets_webassembly_compile(client):
    # The camera's barcode reader (the polyfill's ZXing build) is WebAssembly; no other page needs it.
    for path, wasm in (("/convert/", True), ("/convert/history/", False), ("/convert/sources/", False)):
        policy = client.get(path)["Content-Security-Policy"]
        script_src = next(d.split()[1:] for d in policy.split(";") if d.split()[0] == "script-src")
        assert script_src == (["'self'", "'wasm-unsafe-eval'"] if wasm else ["'self'"]), path


def test_the_camera_reader_is_loaded_on_demand_from_the_platform(client):
    html = client.get("/convert/").content.decode()
    assert 'id="camera-open"' in html
    assert 'data-polyfill="/static/vendor/barcode-detector/ponyfill.js"' in html
    assert 'data-wasm="/static/vendor/zxing-wasm/zxing_reader.wasm"' in html
    assert 'ponyfill.js"></script>' not in html  # not a script of the page itself
    for path in ("vendor/barcode-detector/ponyfill.js", "vendor/zxing-wasm/zxing_reader.wasm"):
        assert finders.find(path), path


def test_a_scan_answers_json_with_the_card(client, user, real_catalogue):
    # A real product (amazon-us-products-2023.csv), listed by a provider that is not the sandbox.
    real_catalogue["B07XSCCZYG"] = (
        "Platinum Elite Softside Expandable Checked Luggage, 8 Wheel Spinner Suitcase"
    )
    response = client.post("/convert/scan/", {"fnsku": "b07xscczyg", "marketplace": "US"}, **JSON)

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["conversion"]["asin"] == "B07XSCCZYG"
    assert body["conversion"]["amazon_url"] == "https://www.amazon.com/dp/B07XSCCZYG"
    assert 'id="result-card"' in body["html"]
    assert "100% sure" in body["html"]
    assert 'class="confidence high"' in body["html"]
    assert Conversion.objects.get().channel == "page"
    assert balance_get(user=user) == 8


def test_a_scanned_b0_code_only_the_sandbox_lists_shows_a_sample_to_check(client, user):
    response = client.post("/convert/scan/", {"fnsku": "B0ZZZZZZZZ", "marketplace": "US"}, **JSON)

    assert response.status_code == 200
    body = response.json()
    assert (body["conversion"]["asin"], body["conversion"]["status"]) == ("B0ZZZZZZZZ", "ambiguous")
    assert body["conversion"]["sample_data"] is True
    assert "50% sure" in body["html"]
    assert 'class="confidence medium"' in body["html"]
    assert "was not checked" in body["html"]


def test_a_bad_scan_answers_the_error_uncharged(client, user):
    response = client.post("/convert/scan/", {"fnsku": "X001-BAD", "marketplace": "US"}, **JSON)

    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["code"] == "invalid_fnsku"
    assert "exactly 10 characters" in body["html"]
    assert balance_get(user=user) == 10


def test_without_script_the_scan_renders_the_page(client):
    response = client.post("/convert/scan/", {"fnsku": "B07N4M94X4", "marketplace": "US"})
    assert response.status_code == 200
    assert 'id="result-card"' in response.content.decode()
    assert 'id="scan-form"' in response.content.decode()


def test_feedback_from_the_page(client, user):
    conversion_id = client.post(
        "/convert/scan/", {"fnsku": "B07N4M94X4", "marketplace": "US"}, **JSON
    ).json()["conversion"]["id"]

    response = client.post(f"/convert/{conversion_id}/feedback/", {"asin": "B0TESTKEEP"}, **JSON)

    assert response.json() == {"ok": True, "asin": "B0TESTKEEP", "verdict": "corrected"}
    assert ConversionFeedback.objects.get().user == user


def test_feedback_on_someone_elses_conversion_is_404(client):
    other = funded_user(credits=10)
    other_client = Client()
    other_client.login(email=other.email, password=PASSWORD)
    conversion_id = other_client.post("/convert/scan/", {"fnsku": "B07N4M94X4"}, **JSON).json()["conversion"][
        "id"
    ]

    response = client.post(f"/convert/{conversion_id}/feedback/", {"asin": "B0TESTKEEP"}, **JSON)

    assert response.status_code == 404
    assert not ConversionFeedback.objects.exists()


def test_csrf_is_enforced():
    user = funded_user(credits=10)
    client = Client(enforce_csrf_checks=True)
    client.login(email=user.email, password=PASSWORD)
    assert client.post("/convert/scan/", {"fnsku": "B07N4M94X4"}, **JSON).status_code == 403


def test_sources_page_imports_a_report(client, user):
    report = SimpleUploadedFile("report.csv", b"sku,fnsku,asin\nSKU-1,X001PAGE01,B0TESTKEEP\n")

    response = client.post("/convert/sources/", {"action": "import", "file": report, "marketplace": "US"})

    assert response.status_code == 200
    assert 'id="import-result"' in response.content.decode()
    assert FnskuMapping.objects.get(user=user).fnsku == "X001PAGE01"


def test_sources_page_without_the_platform_app(client):
    response = client.get("/convert/sources/")
    assert "Not available on this platform" in response.content.decode()
