"""FBA-style label images rendered for tests and the label-photo benchmark (bench/label_photos.py).

An FBA label as Amazon prints it: 2.625 x 1 inch at 300 dpi, a Code 128 barcode of the FNSKU, the
FNSKU in text, the title cut in the middle to the label's width ("first words...last words") and
the condition. ``photo`` adds what a phone photo adds: a margin, a slight rotation, blur and JPEG
compression. Needs python-barcode (requirements-dev.txt): only tests and benchmarks render labels.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import barcode
from barcode.writer import ImageWriter
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from conversion.evaluation.real_labels import middle_cut

DPI = 300
LABEL_SIZE = (int(2.625 * DPI), int(1 * DPI))  # 787 x 300 px
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# Characters of title a 2.625 inch label prints on one line at this font size.
TITLE_CHARS = 50
CONDITIONS = ("New", "Used - Like New", "Used - Very Good", "Used - Good", "Used - Acceptable")


@dataclass(frozen=True)
class Label:
    fnsku: str
    title: str  # as printed: cut in the middle
    condition: str


def label_for(title: str, *, rng: random.Random) -> Label:
    """A label for a product: a made-up FNSKU, its title cut as the label prints it, a condition."""
    return Label(
        fnsku=random_fnsku(rng), title=middle_cut(title, TITLE_CHARS), condition=rng.choice(CONDITIONS)
    )


def render_label(label: Label) -> Image.Image:
    """The label at 300 dpi, black on white, greyscale."""
    width = LABEL_SIZE[0]
    image = Image.new("L", LABEL_SIZE, 255)
    code = barcode.get("code128", label.fnsku, writer=ImageWriter(mode="L"))
    bars = code.render(
        {"module_width": 0.25, "module_height": 9.0, "quiet_zone": 3.0, "write_text": False, "dpi": DPI}
    )
    bars = bars.crop((0, 0, bars.width, min(bars.height, 125)))
    image.paste(bars, ((width - bars.width) // 2, 8))
    draw = ImageDraw.Draw(image)
    big = ImageFont.truetype(FONT, 30)
    small = ImageFont.truetype(FONT, 24)
    draw.text((width // 2, 150), label.fnsku, font=big, fill=0, anchor="mt")
    draw.text((20, 198), label.title, font=small, fill=0)
    draw.text((20, 240), label.condition, font=small, fill=0)
    return image


def photo(image: Image.Image, *, rng: random.Random, quality: int = 70) -> bytes:
    """A phone photo of the label: a margin, up to 5 degrees of rotation, a little blur, JPEG."""
    margin = 40
    framed = Image.new("L", (image.width + 2 * margin, image.height + 2 * margin), 235)
    framed.paste(image, (margin, margin))
    rotated = framed.rotate(rng.uniform(-5, 5), resample=Image.Resampling.BICUBIC, expand=True, fillcolor=235)
    blurred = rotated.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    out = io.BytesIO()
    blurred.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def random_fnsku(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "X00" + "".join(rng.choice(alphabet) for _ in range(7))


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
