"""The scanner page's camera in a real headless Chromium whose camera is Chromium's fake device
playing a rendered Code 128 label (conversion/tests/barcode_video.py).

Debian's Chromium has no native BarcodeDetector, so these tests run the npm barcode-detector
polyfill and its WebAssembly reader, loaded on the button's press under the page's CSP.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD
from conversion.models import Conversion
from conversion.tests.barcode_video import code128_image, y4m_video
from conversion.tests.factories import FnskuMappingFactory
from credits.models import Operation
from credits.selectors import balance_get, price_get
from credits.tests.factories import funded_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CAMERA_FNSKU = "X001CAMERA"
CAMERA_ASIN = "B0CAMERA01"
TYPED_FNSKU = "X001TYPEDX"
TYPED_ASIN = "B0TYPED001"


@pytest.fixture
def fake_camera_video(tmp_path: Path) -> Path:
    return y4m_video(code128_image(CAMERA_FNSKU), tmp_path / "label.y4m")


def _known(fnsku: str, asin: str) -> None:
    seen = timezone.now() - timedelta(days=3)
    FnskuMappingFactory(
        fnsku=fnsku,
        marketplace="US",
        asin=asin,
        first_seen=seen,
        last_seen=seen,
        times_confirmed=3,
        times_seen=3,
    )


def _sign_in_and_open_scanner(page, base: str, user) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/")
    page.nav("Convert")
    page.wait_for_url(f"{base}/convert/")
    return errors


def test_camera_reads_the_label_and_converts_it_once_and_the_scanner_still_works(camera_page, live_server):
    page = camera_page
    page.set_viewport_size({"width": 390, "height": 844})
    user = funded_user(credits=40)
    price = price_get(operation=Operation.FNSKU_CONVERSION)
    _known(CAMERA_FNSKU, CAMERA_ASIN)
    _known(TYPED_FNSKU, TYPED_ASIN)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    errors = _sign_in_and_open_scanner(page, live_server.url, user)
    # The polyfill and its reader (1 MB) are not part of the page until the camera is asked for.
    assert not [url for url in requested if "/vendor/barcode-detector/" in url or url.endswith(".wasm")]
    assert page.locator("#camera-panel").is_hidden()

    # The page records whether the preview was ever on screen: the fake camera's label can be
    # read (closing the camera) before a poll from here would see the preview.
    page.evaluate(
        "() => { const video = document.getElementById('camera-video'); window.__previewShown = false;"
        " new ResizeObserver(() => { if (video.offsetParent !== null) window.__previewShown = true; })"
        ".observe(video); }"
    )
    page.get_by_role("button", name="Scan with camera").click()
    page.wait_for_selector("#result-card[data-status]", timeout=30_000)
    assert page.evaluate("window.__previewShown") is True
    assert page.inner_text("#result-asin") == CAMERA_ASIN
    # A read closes the camera (no second read, no second charge) and says what it read.
    assert page.locator("#camera-panel").is_hidden()
    assert page.locator("#camera-video").evaluate("v => v.srcObject") is None
    assert CAMERA_FNSKU in page.inner_text("#camera-status")
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 1")
    assert any(url.endswith(".wasm") for url in requested)  # the polyfill did the reading
    page.shot("camera-read")

    # The keyboard wedge is unchanged: a typed code and Enter convert the next label.
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'id_fnsku'")
    page.keyboard.type(f"{TYPED_FNSKU.lower()}\n", delay=5)
    page.wait_for_function("() => document.querySelectorAll('#scan-list tbody tr').length === 2")
    assert page.inner_text("#result-asin") == TYPED_ASIN

    conversions = Conversion.objects.filter(user=user).order_by("pk")
    expected = [(CAMERA_FNSKU, CAMERA_ASIN), (TYPED_FNSKU, TYPED_ASIN)]
    assert [(c.fnsku, c.asin) for c in conversions] == expected
    assert balance_get(user=user) == 40 - 2 * price
    assert errors == []


def test_camera_can_be_closed_without_reading(camera_page, live_server):
    page = camera_page
    page.set_viewport_size({"width": 390, "height": 844})
    user = funded_user(credits=10)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    errors = _sign_in_and_open_scanner(page, live_server.url, user)
    # A label the reader never sees: the fake camera shows it, but the page stops looking first.
    page.evaluate(
        "() => { window.BarcodeDetector = class {"
        " static async getSupportedFormats() { return ['code_128']; } async detect() { return []; } }; }"
    )
    page.get_by_role("button", name="Scan with camera").click()
    page.wait_for_selector("#camera-video", state="visible")
    page.wait_for_function("() => document.getElementById('camera-status').textContent.includes('Hold')")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # the preview fits a phone
    page.shot("camera-preview")
    page.get_by_role("button", name="Close camera").click()
    assert page.locator("#camera-panel").is_hidden()
    assert page.locator("#camera-video").evaluate("v => v.srcObject") is None
    assert page.get_by_role("button", name="Scan with camera").is_visible()
    assert page.evaluate("() => document.activeElement.id") == "id_fnsku"
    assert not Conversion.objects.exists()
    assert balance_get(user=user) == 10
    # A browser with its own BarcodeDetector never loads the polyfill.
    assert not [url for url in requested if "/vendor/barcode-detector/" in url or url.endswith(".wasm")]

    # Put away (the tab hidden, the phone locked), the camera turns itself off.
    page.get_by_role("button", name="Scan with camera").click()
    page.wait_for_function("() => document.getElementById('camera-status').textContent.includes('Hold')")
    page.evaluate(
        "() => { Object.defineProperty(document, 'hidden', { value: true, configurable: true });"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    assert page.locator("#camera-panel").is_hidden()
    assert page.locator("#camera-video").evaluate("v => v.srcObject") is None
    assert "turned off" in page.inner_text("#camera-status")
    assert not Conversion.objects.exists()
    assert errors == []


@pytest.mark.parametrize(
    ("error_name", "message"),
    [
        ("NotAllowedError", "The camera is blocked: allow this site to use the camera"),
        ("NotFoundError", "No camera was found on this device."),
        ("NotReadableError", "The camera is in use by another app"),
        ("insecure", "The camera works only over a secure (https) connection."),
        ("unloadable", "The barcode reader could not be loaded."),
    ],
)
def test_camera_problems_are_said_in_plain_words(browser_page, live_server, error_name, message):
    page = browser_page
    user = funded_user(credits=10)
    if error_name == "insecure":  # plain http away from localhost: browsers hide the camera API
        page.add_init_script("Object.defineProperty(navigator, 'mediaDevices', { value: undefined });")
    elif error_name == "unloadable":  # the polyfill's request fails (offline, blocked)
        page.route("**/vendor/barcode-detector/**", lambda route: route.abort())
    else:
        page.add_init_script(
            "navigator.mediaDevices.getUserMedia = () =>"
            f" Promise.reject(new DOMException('refused', '{error_name}'));"
        )
    _sign_in_and_open_scanner(page, live_server.url, user)
    page.get_by_role("button", name="Scan with camera").click()
    page.wait_for_function("() => document.getElementById('camera-status').textContent.length > 20")
    assert page.inner_text("#camera-status").startswith(message)
    assert page.locator("#camera-panel").is_hidden()
    assert page.get_by_role("button", name="Scan with camera").is_enabled()
    assert not Conversion.objects.exists()
