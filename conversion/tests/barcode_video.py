"""A Code 128 barcode drawn with Pillow, as a video file Chromium plays as a fake camera.

Chromium's ``--use-file-for-fake-video-capture`` takes a Y4M file (raw YUV 4:2:0 frames), so
the browser tests can hold a label in front of a camera that is not there.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

# Bar and space widths of Code 128's symbols 0-106, in modules (ISO/IEC 15417, table 1).
_TABLE = """
212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232
122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122
321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311
211313 231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 231131 213113
213311 213131 311123 311321 331121 312113 312311 332111 314111 221411 431111 111224 111422
121124 121421 141122 141221 112214 112412 122114 122411 142112 142211 241211 221114 413111
241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 214121
412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412
211214 211232 2331112
"""
_PATTERNS = _TABLE.split()
_START_B = 104
_STOP = 106
QUIET_ZONE = 10


def code128_modules(text: str) -> list[int]:
    """The run widths (bar, space, bar, ...) of ``text`` in code set B, quiet zones excluded."""
    if not text or any(not 32 <= ord(char) <= 127 for char in text):
        raise ValueError(f"code set B holds printable ASCII only, not {text!r}")
    values = [ord(char) - 32 for char in text]
    checksum = (_START_B + sum(position * value for position, value in enumerate(values, 1))) % 103
    symbols = [_START_B, *values, checksum, _STOP]
    return [int(width) for symbol in symbols for width in _PATTERNS[symbol]]


def code128_image(text: str, *, module: int = 3, height: int = 160) -> Image.Image:
    """A black-on-white Code 128 of ``text`` with its quiet zones, ``module`` pixels a module."""
    runs = code128_modules(text)
    width = (sum(runs) + 2 * QUIET_ZONE) * module
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    x = QUIET_ZONE * module
    for index, run in enumerate(runs):
        if index % 2 == 0:  # bars at even positions, spaces between
            draw.rectangle((x, 0, x + run * module - 1, height - 1), fill=0)
        x += run * module
    return image


def y4m_video(image: Image.Image, path: Path, *, size: tuple[int, int] = (640, 480), frames: int = 2) -> Path:
    """``image`` centred on a white frame, written as a Y4M video of ``frames`` frames."""
    width, height = size
    frame = Image.new("RGB", size, "white")
    frame.paste(image.convert("RGB"), ((width - image.width) // 2, (height - image.height) // 2))
    luma, blue, red = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = luma.tobytes() + blue.resize(half).tobytes() + red.resize(half).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path
