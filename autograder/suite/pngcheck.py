"""Is a PNG a real plot? Decodes the bytes with Pillow; never runs anything from the submission.

Bounded whatever the file: at most intake.MAX_PNG_BYTES are read, and an
image of more than MAX_PIXELS pixels is refused from its header, before any
pixel is decoded (Pillow's own decompression-bomb check stays on as well).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from autograder.harness import intake

MIN_WIDTH, MIN_HEIGHT = 300, 200
MAX_PIXELS = 25_000_000  # 5000x5000; a plot saved at 300 dpi is under 10 million
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def problem(data: bytes | Path) -> str | None:
    """None for a PNG of at least 300x200 pixels that is not one flat colour; else what is wrong with it.

    `data` is the PNG's bytes, or a path, read without following a link and
    only up to intake.MAX_PNG_BYTES.
    """
    if isinstance(data, Path):
        data, why = intake.read_regular(data, intake.MAX_PNG_BYTES)
        if data is None:
            return f"cannot be checked: {why}"
    if len(data) > intake.MAX_PNG_BYTES:
        return f"is {len(data):,} bytes, over the limit of {intake.MAX_PNG_BYTES // 1_000_000} MB for a PNG"
    if not data.startswith(PNG_SIGNATURE):
        return "is not a PNG file (its first bytes are not the PNG signature)"
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses twice this in open(), and warns above it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                width, height = image.size  # from the header: nothing is decoded yet
                if width * height > MAX_PIXELS:
                    return f"is {width}x{height} pixels, more than the {MAX_PIXELS:,} pixels a plot may have"
                image.load()
                extrema = image.convert("L").getextrema()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return f"has more than the {MAX_PIXELS:,} pixels a plot may have: it is not decoded ({e})"
    except Exception as e:  # Pillow raises many types for damaged files
        return f"could not be decoded as a PNG ({type(e).__name__}: {e})"
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return f"is {width}x{height} pixels; it should be at least {MIN_WIDTH}x{MIN_HEIGHT}"
    if extrema[1] - extrema[0] < 10:
        return "is blank: every pixel has the same colour (was the figure saved after plt.show() or before plotting?)"
    return None
