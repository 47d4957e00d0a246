"""Reading label photos (conversion/labels.py) rendered from real Amazon titles."""

import io
import random

import pytest
from PIL import Image, ImageDraw
from rapidfuzz import fuzz

from conversion.evaluation.label_images import Label, label_for, photo, png, render_label
from conversion.evaluation.real_labels import load_products
from conversion.labels import label_read
from core.errors import DomainError


def read(data: bytes):
    return label_read(file=io.BytesIO(data))


def test_photos_of_labels_read_the_fnsku_exactly_and_the_title_mostly():
    rng = random.Random(21)
    products = rng.sample(load_products(), 12)
    similarities = []
    for _, title in products:
        label = label_for(title, rng=rng)

        reading = read(photo(render_label(label), rng=rng))

        assert reading.fnsku == label.fnsku
        assert reading.condition == label.condition, (label, reading)
        similarities.append(fuzz.ratio(reading.title, label.title))
    assert min(similarities) >= 80, similarities
    assert sum(similarities) / len(similarities) >= 95, similarities


def test_a_label_at_five_degrees_and_low_jpeg_quality_still_reads():
    rng = random.Random(5)
    label = Label("X00TILT5DG", "Hydro Flask Wide Mouth...Bottle, Black", "Used - Very Good")
    image = render_label(label).rotate(5, expand=True, fillcolor=255)

    reading = read(photo(image, rng=rng, quality=40))

    assert reading.fnsku == "X00TILT5DG"
    assert reading.condition == "Used - Very Good"
    assert fuzz.ratio(reading.title, label.title) >= 85


def _raises(data: bytes, code: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        read(data)
    assert caught.value.code == code
    assert caught.value.message
    return caught.value


def test_not_an_image():
    _raises(b"fnsku,asin\nX001ABCDEF,B000000001\n", "not_an_image")


def test_empty_file():
    _raises(b"", "image_missing")


def test_over_the_size_limit(settings):
    settings.CONVERSION_LABEL_MAX_BYTES = 1000
    error = _raises(png(Image.effect_noise((100, 100), 64)), "image_too_large")
    assert error.extra == {"max_bytes": 1000}


def test_over_the_pixel_limit(settings):
    settings.CONVERSION_LABEL_MAX_PIXELS = 10_000
    _raises(png(Image.new("L", (200, 200), 255)), "image_too_large")


def test_a_decompression_bomb_is_refused_before_decoding():
    # A few kilobytes of PNG that would decode to 400 million pixels.
    _raises(png(Image.new("1", (20_000, 20_000), 1)), "image_too_large")


def test_a_truncated_photo_is_unreadable():
    rng = random.Random(3)
    data = photo(render_label(Label("X00CUT0FFX", "A title", "New")), rng=rng)
    _raises(data[: len(data) // 2], "image_unreadable")


def test_a_photo_without_a_barcode():
    image = Image.new("L", (800, 300), 255)
    ImageDraw.Draw(image).text((20, 100), "X001ABCDEF Just text, no bars", fill=0)
    _raises(png(image), "label_no_barcode")


def test_a_code_128_that_is_not_an_fnsku_is_no_label():
    _raises(png(render_label(Label("HELLO-WORLD-42", "A title", "New"))), "label_no_barcode")


def heic(image: Image.Image, *, quality: int = 80) -> bytes:
    """The image as an iPhone stores a photo: HEIC (HEVC in a HEIF container), made by pillow-heif."""
    import pillow_heif

    heif = pillow_heif.from_pillow(image.convert("RGB"))
    out = io.BytesIO()
    heif.save(out, quality=quality)
    return out.getvalue()


def test_a_heic_photo_of_a_label_reads_like_a_jpeg_one():
    rng = random.Random(22)
    _, title = rng.choice(load_products())
    label = label_for(title, rng=rng)
    jpeg = photo(render_label(label), rng=rng)
    data = heic(Image.open(io.BytesIO(jpeg)))
    assert data[4:12] == b"ftypheic", "a real HEIC file (ISO BMFF brand heic)"

    reading = read(data)

    assert reading.fnsku == label.fnsku
    assert reading.condition == label.condition
    assert fuzz.ratio(reading.title, label.title) >= 80


def test_an_image_in_a_format_not_accepted_is_refused_by_name():
    out = io.BytesIO()
    render_label(Label("X00ICONFMT", "A title", "New")).resize((256, 256)).save(out, format="ICO")

    error = _raises(out.getvalue(), "image_format_unsupported")

    assert error.extra["format"] == "ICO"
    assert "ICO images are not accepted" in error.message
    assert "HEIC/HEIF" in error.message


def test_a_truncated_heic_photo_is_unreadable():
    data = heic(render_label(Label("X00HEICCUT", "A title", "New")))
    _raises(data[: len(data) // 2], "image_unreadable")
