"""Reading an FBA label from a photo: the FNSKU from its Code 128 barcode, the title and condition
from its printed text; then converting it like a typed code (conversion/convert.py).

Everything here runs before the metered call: a photo that is not an image, too large, without
an FNSKU barcode or undecodable is refused (400) and nothing is charged. Reading:

1. zxing-cpp finds the Code 128 barcode (any direction) and its angle;
2. the image is turned upright by that angle and cut below the barcode, where the label prints
   the FNSKU, the title (cut in the middle, "first words...last words") and the condition;
3. Tesseract reads that block as lines (``--psm 6``: one uniform block of text, which is what a
   label is; the whole photo with its background read far worse);
4. the lines that are the FNSKU again or a condition are told apart from the title's.

Formats: ``ACCEPTED_FORMATS`` (what phones and browsers send: JPEG, PNG, WebP, HEIC/HEIF, the
iPhone's default, through pillow-heif, registered with Pillow once, when this module is first
imported; GIF, BMP, TIFF). An image Pillow knows in another format (EPS, PSD, ICO, ...) is refused
by name, before it is decoded; a file Pillow does not know is "not an image".
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import pillow_heif
import pytesseract
import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError
from rapidfuzz import fuzz

from conversion import conf
from conversion.convert import ConversionResult, fnsku_convert
from conversion.models import Conversion
from conversion.validation import normalize_fnsku
from core.errors import DomainError, UnavailableError
from products.marketplaces import marketplace_get

if TYPE_CHECKING:
    from accounts.models import User

# Amazon's condition names as labels print them, longest first so "Used - Like New" is not "New".
CONDITIONS = ("Used - Like New", "Used - Very Good", "Used - Acceptable", "Used - Good", "New")
_CONDITION_MATCH = 85  # rapidfuzz ratio, 0-100: "Used - Llke New" is still "Used - Like New"
_FNSKU_LINE_MATCH = 80
_CODE_128 = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.Code128)
_OCR_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})

# HEIC/HEIF: Pillow opens it once pillow-heif's opener is registered (once per process).
pillow_heif.register_heif_opener()

#: Pillow's format names of the photos accepted (MPO: a phone's JPEG with a second picture in it).
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF", "GIF", "BMP", "TIFF"})
ACCEPTED_FORMATS_TEXT = "JPEG, PNG, WebP, HEIC/HEIF, GIF, BMP or TIFF"


@dataclass(frozen=True)
class LabelReading:
    """What a label photo says: the FNSKU (exact, from the barcode), the printed title and the
    condition as read ("" when not read)."""

    fnsku: str
    title: str
    condition: str

    def to_dict(self) -> dict[str, str]:
        return {"fnsku": self.fnsku, "title": self.title, "condition": self.condition}


def label_read(*, file: IO[bytes]) -> LabelReading:
    """Read a label photo (an upload or any binary file). Raises ``DomainError`` (400) for a file
    that is empty, over ``CONVERSION_LABEL_MAX_BYTES``, not an image Pillow opens, over
    ``CONVERSION_LABEL_MAX_PIXELS``, undecodable, or without an FNSKU barcode;
    ``UnavailableError`` (503) when Tesseract is missing or too slow."""
    settings = conf.conversion_settings()
    data = file.read(settings.label_max_bytes + 1)
    if not data:
        raise DomainError("The image is empty: attach a photo of the label.", code="image_missing")
    if len(data) > settings.label_max_bytes:
        raise DomainError(
            f"The image is over {settings.label_max_bytes // 1_000_000} MB; send a smaller photo.",
            code="image_too_large",
            extra={"max_bytes": settings.label_max_bytes},
        )
    image = _open_image(data, max_pixels=settings.label_max_pixels)
    code, angle, bottom = _read_barcode(image)
    lines = _read_text(image, angle=angle, below=bottom, timeout=settings.label_ocr_timeout)
    title, condition = _title_and_condition(lines, fnsku=code)
    return LabelReading(fnsku=code, title=title, condition=condition)


def fnsku_convert_label(
    *,
    user: User,
    file: IO[bytes],
    marketplace: str = "US",
    idempotency_key: str | None = None,
    channel: str = Conversion.Channel.API,
) -> tuple[LabelReading, ConversionResult]:
    """Read a label photo and convert what it says: the same metered call as a typed code, with
    the printed title as the label text. Nothing is charged when the photo cannot be read."""
    marketplace_get(marketplace)  # a bad marketplace is refused before the photo is read
    reading = label_read(file=file)
    result = fnsku_convert(
        user=user,
        fnsku=reading.fnsku,
        marketplace=marketplace,
        label_text=reading.title,
        idempotency_key=idempotency_key,
        channel=channel,
    )
    return reading, result


def _open_image(data: bytes, *, max_pixels: int) -> Image.Image:
    not_an_image = DomainError(
        f"The file is not an image this service reads ({ACCEPTED_FORMATS_TEXT}): send a photo of the label.",
        code="not_an_image",
        extra={"accepted_formats": sorted(ACCEPTED_FORMATS)},
    )
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its limit; a decompression bomb is refused outright.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                # Refused before anything is decoded (EPS, for one, would run Ghostscript).
                raise DomainError(
                    f"{image.format} images are not accepted; send the photo as {ACCEPTED_FORMATS_TEXT}.",
                    code="image_format_unsupported",
                    extra={"format": image.format, "accepted_formats": sorted(ACCEPTED_FORMATS)},
                )
            width, height = image.size
            if width * height > max_pixels:
                raise DomainError(
                    f"The image is {width} x {height} pixels, over the {max_pixels:,} accepted; "
                    "send a smaller photo.",
                    code="image_too_large",
                    extra={"max_pixels": max_pixels},
                )
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DomainError(
            f"The image has more pixels than the {max_pixels:,} accepted; send a smaller photo.",
            code="image_too_large",
            extra={"max_pixels": max_pixels},
        ) from exc
    except UnidentifiedImageError as exc:
        raise not_an_image from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # Opened (the header is an image's) but its data does not decode: truncated or corrupt.
        raise DomainError(
            "The image could not be decoded (truncated or damaged); take the photo again.",
            code="image_unreadable",
        ) from exc
    return ImageOps.autocontrast(ImageOps.exif_transpose(image).convert("L"))


def _read_barcode(image: Image.Image) -> tuple[str, float, int]:
    """The FNSKU of the label's Code 128 barcode, the label's skew (degrees) and, once the image
    is turned by it, the y below which the printed text starts."""
    for found in zxingcpp.read_barcodes(image, formats=_CODE_128):
        try:
            code = normalize_fnsku(found.text)
        except DomainError:
            continue
        # zxing's orientation is coarse (0 for a label a few degrees off): measure the skew.
        angle = found.orientation + _skew(image.rotate(found.orientation, expand=True, fillcolor=255))
        upright = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        for again in zxingcpp.read_barcodes(upright, formats=_CODE_128):
            if again.text == found.text:
                return code, angle, _below_bars(upright, again.position)
        return code, angle, 0
    raise DomainError(
        "No FNSKU barcode (Code 128, X00...) was found in the photo: photograph the whole label, "
        "flat, in focus and well lit.",
        code="label_no_barcode",
    )


def _skew(image: Image.Image) -> float:
    """The small rotation (-6 to 6 degrees) that makes the label's lines level: the one whose rows
    differ most from each other (level text lines alternate ink and blank rows sharply)."""
    small = image.resize((max(1, image.width // 3), max(1, image.height // 3)))
    best, best_spread = 0.0, -1.0
    for tenth in range(-60, 61, 5):
        angle = tenth / 10
        turned = small.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=255)
        rows = list(turned.resize((1, turned.height), Image.Resampling.BOX).tobytes())
        mean = sum(rows) / len(rows)
        spread = sum((r - mean) ** 2 for r in rows)
        if spread > best_spread:
            best, best_spread = angle, spread
    return best


def _below_bars(image: Image.Image, position: zxingcpp.Position) -> int:
    """The first blank row under the barcode (zxing's position covers only the rows it scanned):
    walks down across the bars' width until a row there is nearly all paper."""
    xs = [position.top_left.x, position.top_right.x, position.bottom_left.x, position.bottom_right.x]
    ys = [position.top_left.y, position.top_right.y, position.bottom_left.y, position.bottom_right.y]
    left, right = max(0, min(xs)), min(image.width, max(xs))
    if right - left < 10:
        return max(ys)
    strip = image.crop((left, 0, right, image.height)).point(lambda v: 255 if v > 128 else 0)
    rows = list(strip.resize((1, strip.height), Image.Resampling.BOX).tobytes())
    for y in range(max(0, (min(ys) + max(ys)) // 2), len(rows)):
        if rows[y] > 250:  # under 2% ink
            return y
    return max(ys)


def _read_text(image: Image.Image, *, angle: float, below: int, timeout: int) -> list[str]:
    upright = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    text_block = upright.crop((0, below, upright.width, upright.height)) if below else upright
    try:
        text = pytesseract.image_to_string(text_block, config="--psm 6", timeout=timeout)
    except pytesseract.TesseractNotFoundError as exc:
        raise UnavailableError(
            "Label text reading is not installed on this server (tesseract-ocr).", code="ocr_unavailable"
        ) from exc
    except RuntimeError as exc:  # pytesseract's timeout
        raise UnavailableError(
            "Reading the label's text took too long; try again with a sharper photo.", code="ocr_timeout"
        ) from exc
    return [" ".join(line.split()) for line in str(text).splitlines() if line.strip()]


def _title_and_condition(lines: list[str], *, fnsku: str) -> tuple[str, str]:
    title: list[str] = []
    condition = ""
    for line in lines:
        if len(re.sub(r"[^0-9A-Za-z]", "", line)) < 3:
            continue  # specks read as letters
        squeezed = line.replace(" ", "").upper().translate(_OCR_LOOKALIKES)
        if fuzz.ratio(squeezed, fnsku.translate(_OCR_LOOKALIKES)) >= _FNSKU_LINE_MATCH:
            continue
        matched = _condition_of(line)
        if matched:
            condition = condition or matched
            continue
        title.append(line)
    return " ".join(title)[:1000], condition


def _condition_of(line: str) -> str:
    best, score = "", 0.0
    for name in CONDITIONS:
        ratio = fuzz.ratio(line.lower(), name.lower())
        if ratio > score:
            best, score = name, ratio
    return best if score >= _CONDITION_MATCH else ""
